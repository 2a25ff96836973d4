#include "models/cost/calibrated_costs.h"

#include <algorithm>
#include <cmath>

namespace kvsim {

double PiecewiseLogLog::eval(double at) const {
  if (x.empty()) return 0.0;
  if (at <= x.front()) return t_us.front();
  if (at >= x.back()) return t_us.back() * at / x.back();
  const auto it = std::upper_bound(x.begin(), x.end(), at);
  const std::size_t i = static_cast<std::size_t>(it - x.begin());
  const double lx0 = std::log(x[i - 1]), lx1 = std::log(x[i]);
  const double ly0 = std::log(t_us[i - 1]), ly1 = std::log(t_us[i]);
  const double w = (std::log(at) - lx0) / (lx1 - lx0);
  return std::exp(ly0 + w * (ly1 - ly0));
}

double Grid2D::lerp(double a, double ta, double b, double tb, double at, bool log) {
  if (b == a) return ta;
  if (log) {
    const double w = (std::log(at) - std::log(a)) / (std::log(b) - std::log(a));
    return std::exp((1 - w) * std::log(ta) + w * std::log(tb));
  }
  const double w = (at - a) / (b - a);
  return (1 - w) * ta + w * tb;
}

double Grid2D::eval(double x, double y) const {
  auto fb = [&](double a, double b) { return fallback.eval({1.0, a, a * b, b}); };
  if (xs.empty()) return fb(x, y);
  auto bracket = [](const std::vector<double>& v, double at) {
    if (v.size() < 2 || at <= v.front()) return std::size_t{0};
    if (at >= v.back()) return v.size() - 2;
    return static_cast<std::size_t>(std::upper_bound(v.begin(), v.end(), at) - v.begin()) - 1;
  };
  const double cx = std::clamp(x, xs.front(), xs.back()), cy = std::clamp(y, ys.front(), ys.back());
  const std::size_t i = bracket(xs, cx), j = bracket(ys, cy);
  const std::size_t i1 = std::min(i + 1, xs.size() - 1), j1 = std::min(j + 1, ys.size() - 1);
  const double c00 = t_us[i][j], c10 = t_us[i1][j], c01 = t_us[i][j1], c11 = t_us[i1][j1];
  if (!(c00 > 0 && c10 > 0 && c01 > 0 && c11 > 0)) return fb(x, y);
  const double r0 = lerp(xs[i], c00, xs[i1], c10, cx, log_x);
  const double r1 = lerp(xs[i], c01, xs[i1], c11, cx, log_x);
  const double inside = lerp(ys[j], r0, ys[j1], r1, cy, log_y);
  if (cx == x && cy == y) return inside;
  // Beyond the grid: the fit's shape, anchored at the grid's edge.
  const double anchor = fb(cx, cy);
  return anchor > 0 ? inside * fb(x, y) / anchor : inside;
}

double LinearFit::eval(const std::vector<double>& features) const {
  double t = 0;
  for (std::size_t i = 0; i < coef.size() && i < features.size(); ++i) t += coef[i] * features[i];
  return std::max(t, 0.0);
}

}  // namespace kvsim

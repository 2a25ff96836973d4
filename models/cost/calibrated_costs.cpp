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

double LinearFit::eval(const std::vector<double>& features) const {
  double t = 0;
  for (std::size_t i = 0; i < coef.size() && i < features.size(); ++i) t += coef[i] * features[i];
  return std::max(t, 0.0);
}

}  // namespace kvsim

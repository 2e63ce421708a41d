#include "linetune/simulation/rig.hpp"

#include "linetune/core/units.hpp"

#include <algorithm>
#include <cmath>

namespace linetune::simulation {
namespace {

Point3 difference(const Point3& from, const Point3& to) {
    return {to[0] - from[0], to[1] - from[1], to[2] - from[2]};
}

double length(const Point3& v) { return std::sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]); }

}  // namespace

double distance_m(const Point3& from, const Point3& to) { return length(difference(from, to)); }

double off_axis_angle_deg(const SourceModel& source, const Point3& point) {
    const Point3 axis = difference(source.position_m, source.aim_m);
    const Point3 direction = difference(source.position_m, point);
    const double norms = length(axis) * length(direction);
    if (norms <= 0.0) {
        return 0.0;  // a point at the acoustic centre, or a source without an axis: treat as on axis
    }
    const double cosine = (axis[0] * direction[0] + axis[1] * direction[1] + axis[2] * direction[2]) / norms;
    return std::acos(std::clamp(cosine, -1.0, 1.0)) * 180.0 / pi;
}

}  // namespace linetune::simulation

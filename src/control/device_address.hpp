#pragma once

// Parts shared by the OSC and AES70 drivers: the "verified_on_real_device" flag of a profile's
// control object and the loopback policy that decides which hosts a driver may reach.

#include "linetune/core/error.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/address_v4.hpp>
#include <boost/asio/ip/address_v6.hpp>

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace linetune::control::detail {

/// Reads control.verified_on_real_device into flag when present; a value that is not a boolean
/// is added to problems.
inline void read_verified_flag(const nlohmann::json& control, bool& flag, std::vector<std::string>& problems) {
    const auto verified = control.find("verified_on_real_device");
    if (verified == control.end()) {
        return;
    }
    if (verified->is_boolean()) {
        flag = verified->get<bool>();
    } else {
        problems.push_back("control.verified_on_real_device must be true or false, not " + verified->dump());
    }
}

/// Returns the endpoint of a device after the loopback policy: a host that is not a loopback
/// address is allowed only when the profile is verified on a real device or the caller overrides
/// the policy, and a host name other than "localhost" is resolved only then, so that no DNS
/// query leaves the machine otherwise. Throws Error (configuration) for a missing address or a
/// rejected host, and Error (device) for a name that does not resolve.
template <typename Protocol>
typename Protocol::endpoint device_endpoint(const std::string& device_name, const std::string& host, std::uint16_t port,
                                            const std::string& profile_name, bool remote_allowed) {
    const std::string head = "amplifier '" + device_name + "'";
    if (host.empty() || port == 0) {
        throw Error(head + " has no control address; give \"host\" and \"port\" in the venue file",
                    ErrorKind::configuration);
    }

    boost::system::error_code parse_error;
    auto address = host == "localhost" ? boost::asio::ip::address(boost::asio::ip::address_v4::loopback())
                                       : boost::asio::ip::make_address(host, parse_error);
    if (!parse_error && address.is_v6() && address.to_v6().is_v4_mapped()) {
        address = boost::asio::ip::make_address_v4(boost::asio::ip::v4_mapped, address.to_v6());
    }
    const bool loopback = !parse_error && address.is_loopback();
    if (!loopback && !remote_allowed) {
        throw Error(head + ": host '" + host + "' is not a loopback address, and profile '" + profile_name +
                        "' is not verified on a real device (control.verified_on_real_device is false); "
                        "linetune reaches other hosts only for verified profiles or when explicitly overridden",
                    ErrorKind::configuration);
    }
    if (!parse_error) {
        return {address, port};
    }

    // A remote host name, allowed: resolve it now.
    boost::asio::io_context io_context;
    typename Protocol::resolver resolver(io_context);
    boost::system::error_code resolve_error;
    const auto results = resolver.resolve(host, std::to_string(port), resolve_error);
    if (resolve_error || results.empty()) {
        throw Error(head + ": host name '" + host + "' does not resolve (" + resolve_error.message() +
                        "); check the venue file",
                    ErrorKind::device);
    }
    return results.begin()->endpoint();
}

}  // namespace linetune::control::detail

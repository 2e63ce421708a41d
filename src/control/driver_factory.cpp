#include "linetune/control/driver_factory.hpp"

#include "linetune/control/aes70/aes70_control_settings.hpp"
#include "linetune/control/aes70/aes70_driver.hpp"
#include "linetune/control/osc/osc_control_settings.hpp"
#include "linetune/control/osc/osc_driver.hpp"
#include "linetune/core/error.hpp"

namespace linetune::control {

std::unique_ptr<DeviceDriver> make_device_driver(const Amplifier& amplifier, const DriverSettings& settings) {
    if (amplifier.host.empty()) {
        throw Error("amplifier '" + amplifier.name +
                        "' has no \"host\" and \"port\" in the venue file; add its control address to push to it or read "
                        "from it",
                    ErrorKind::configuration);
    }
    if (uses_aes70(amplifier.profile)) {
        Aes70DriverOptions options;
        options.reply_timeout = settings.reply_timeout;
        options.watch_changes = !settings.read_only;
        options.lock_objects = !settings.read_only;
        return std::make_unique<Aes70Driver>(amplifier, options);
    }
    if (!uses_osc(amplifier.profile)) {
        throw Error("amplifier '" + amplifier.name + "': profile '" + amplifier.profile_name +
                        "' names no control protocol linetune speaks (its \"control\" object needs \"protocol\": "
                        "\"osc\" or \"aes70\"). Enter the settings by hand from 'linetune tune --csv', and give what the "
                        "amplifier holds to a re-tune with --applied",
                    ErrorKind::configuration);
    }
    OscDriverOptions options;
    options.reply_timeout = settings.reply_timeout;
    options.retries = settings.retries;
    return make_osc_driver(amplifier, options);
}

}  // namespace linetune::control

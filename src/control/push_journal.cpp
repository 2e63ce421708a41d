#include "linetune/control/push_journal.hpp"

#include "linetune/core/error.hpp"
#include "linetune/io/json_file.hpp"
#include "linetune/io/text_file_writer.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <system_error>

namespace linetune::control {
namespace {

using nlohmann::json;

constexpr const char* journal_format = "linetune push journal";
constexpr int journal_format_version = 1;

const json& member(const json& object, const char* key, const std::string& where) {
    if (!object.is_object() || !object.contains(key)) {
        throw Error(where + ": \"" + key + "\" is missing", ErrorKind::configuration);
    }
    return object.at(key);
}

double number_member(const json& object, const char* key, const std::string& where) {
    const auto& value = member(object, key, where);
    if (!value.is_number()) {
        throw Error(where + ": \"" + key + "\" is not a number", ErrorKind::configuration);
    }
    return value.get<double>();
}

bool flag_member(const json& object, const char* key, const std::string& where) {
    const auto& value = member(object, key, where);
    if (!value.is_boolean()) {
        throw Error(where + ": \"" + key + "\" is not true or false", ErrorKind::configuration);
    }
    return value.get<bool>();
}

std::string text_member(const json& object, const char* key, const std::string& where) {
    const auto& value = member(object, key, where);
    if (!value.is_string()) {
        throw Error(where + ": \"" + key + "\" is not a string", ErrorKind::configuration);
    }
    return value.get<std::string>();
}

const json& array_member(const json& object, const char* key, const std::string& where) {
    const auto& value = member(object, key, where);
    if (!value.is_array()) {
        throw Error(where + ": \"" + key + "\" is not a list", ErrorKind::configuration);
    }
    return value;
}

json device_json(const DevicePlan& device) {
    json channels = json::array();
    for (const auto& channel : device.channels) {
        channels.push_back({{"zone", channel.zone},
                            {"channel", channel.channel},
                            {"snapshot_known", channel.snapshot_known},
                            {"snapshot", channel_state_json(channel.snapshot)},
                            {"target", channel_state_json(channel.target)}});
    }
    return {{"amplifier", device.amplifier}, {"device", device.device}, {"channels", channels}};
}

DevicePlan device_from_json(const json& entry, const std::string& where) {
    DevicePlan device;
    device.amplifier = text_member(entry, "amplifier", where);
    device.device = text_member(entry, "device", where);
    const std::string device_where = where + ", amplifier '" + device.amplifier + "'";
    for (const auto& item : array_member(entry, "channels", device_where)) {
        ChannelPlan channel;
        channel.zone = text_member(item, "zone", device_where);
        const double number = number_member(item, "channel", device_where);
        if (!(number >= 1.0) || number != static_cast<double>(static_cast<std::size_t>(number))) {
            throw Error(device_where + ": channel " + member(item, "channel", device_where).dump() + " is not a channel number",
                        ErrorKind::configuration);
        }
        channel.channel = static_cast<std::size_t>(number);
        const std::string channel_where = device_where + ", channel " + std::to_string(channel.channel);
        channel.snapshot_known = flag_member(item, "snapshot_known", channel_where);
        channel.snapshot = channel_state_from_json(member(item, "snapshot", channel_where), channel_where + ", snapshot");
        channel.target = channel_state_from_json(member(item, "target", channel_where), channel_where + ", target");
        device.channels.push_back(std::move(channel));
    }
    return device;
}

}  // namespace

json channel_state_json(const ChannelState& state) {
    json bands = json::array();
    for (const auto& band : state.bands) {
        bands.push_back({{"enabled", band.enabled},
                         {"type", std::string(to_string(band.type))},
                         {"freq_hz", band.freq_hz},
                         {"gain_db", band.gain_db},
                         {"q", band.q}});
    }
    return {{"gain_db", state.gain_db},
            {"delay_ms", state.delay_ms},
            {"mute", state.mute},
            {"polarity_inverted", state.polarity_inverted},
            {"bands", bands}};
}

ChannelState channel_state_from_json(const json& object, const std::string& where) {
    ChannelState state;
    state.gain_db = number_member(object, "gain_db", where);
    state.delay_ms = number_member(object, "delay_ms", where);
    state.mute = flag_member(object, "mute", where);
    state.polarity_inverted = flag_member(object, "polarity_inverted", where);
    for (const auto& item : array_member(object, "bands", where)) {
        const std::string band_where = where + ", band " + std::to_string(state.bands.size() + 1);
        EqBandState band;
        band.enabled = flag_member(item, "enabled", band_where);
        const std::string type_name = text_member(item, "type", band_where);
        const auto type = parse_filter_kind(type_name);
        if (!type) {
            throw Error(band_where + ": type '" + type_name + "' is not a filter type", ErrorKind::configuration);
        }
        band.type = *type;
        band.freq_hz = number_member(item, "freq_hz", band_where);
        band.gain_db = number_member(item, "gain_db", band_where);
        band.q = number_member(item, "q", band_where);
        state.bands.push_back(band);
    }
    return state;
}

void write_push_journal(const std::filesystem::path& path, const PushPlan& plan) {
    json devices = json::array();
    for (const auto& device : plan.devices) {
        devices.push_back(device_json(device));
    }
    const json document{{"format", journal_format},
                        {"format_version", journal_format_version},
                        {"venue", plan.venue_name},
                        {"venue_file", plan.venue_file.string()},
                        {"note", "written before the first change of a push; 'linetune push --recover' restores every "
                                 "snapshot from it"},
                        {"devices", devices}};
    try {
        io::write_text_file(path, document.dump(2) + "\n");
    } catch (const Error& error) {
        throw Error(std::string("push journal: ") + error.what() + "; nothing was sent", ErrorKind::configuration);
    }
}

PushPlan read_push_journal(const std::filesystem::path& path) {
    const std::string label = "push journal '" + path.string() + "'";
    std::error_code status_error;
    const auto status = std::filesystem::status(path, status_error);
    if (status.type() == std::filesystem::file_type::not_found) {
        throw Error(label + ": not found; give the journal of the interrupted push with --journal",
                    ErrorKind::configuration);
    }
    if (status.type() == std::filesystem::file_type::directory) {
        throw Error(label + ": is a folder, not a journal file; give the journal of the interrupted push with --journal",
                    ErrorKind::configuration);
    }
    const json document = io::parse_json_file(path, label, ErrorKind::configuration);
    if (!document.is_object() || document.value("format", json()) != journal_format) {
        throw Error(label + ": not a linetune push journal", ErrorKind::configuration);
    }
    if (document.value("format_version", json()) != journal_format_version) {
        throw Error(label + ": format_version " + document.value("format_version", json()).dump() + " is not " +
                        std::to_string(journal_format_version) + "; recover with the linetune version that wrote it",
                    ErrorKind::configuration);
    }

    PushPlan plan;
    plan.venue_name = text_member(document, "venue", label);
    plan.venue_file = text_member(document, "venue_file", label);
    for (const auto& entry : array_member(document, "devices", label)) {
        plan.devices.push_back(device_from_json(entry, label));
    }
    return plan;
}

void remove_push_journal(const std::filesystem::path& path) {
    std::error_code error;
    if (!std::filesystem::remove(path, error) && error) {
        throw Error("push journal '" + path.string() + "' cannot be removed (" + error.message() +
                        "); remove it by hand, because the push itself has finished",
                    ErrorKind::configuration);
    }
    const auto folder = path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
    const int descriptor = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (descriptor >= 0) {
        ::fsync(descriptor);
        ::close(descriptor);
    }
}

}  // namespace linetune::control

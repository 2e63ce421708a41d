#include "aes70_property_watch.hpp"

namespace linetune::control {
namespace {

// OcaRoot's PropertyChanged event is 1.1; its data is PropertyID (4 bytes), the value in the
// property's own type, then OcaPropertyChangeType (1 byte, 1 = CurrentChanged).
constexpr OcaEventId property_changed_event{1, 1};
constexpr std::size_t property_id_size = 4;
constexpr std::uint8_t current_changed = 1;

Aes70PropertyWatch::PropertyKey key_of(OcaONo ono, OcaPropertyId property) {
    return {ono, (std::uint32_t{property.def_level} << 16) | property.index};
}

}  // namespace

void Aes70PropertyWatch::clear() {
    std::lock_guard lock(mutex_);
    watched_.clear();
    expected_.clear();
    changes_.clear();
}

void Aes70PropertyWatch::watch(OcaONo ono, OcaPropertyId property, const ParameterId& id) {
    std::lock_guard lock(mutex_);
    watched_[key_of(ono, property)] = id;
}

std::optional<std::vector<std::uint8_t>> Aes70PropertyWatch::expect(OcaONo ono, OcaPropertyId property,
                                                                    std::vector<std::uint8_t> value) {
    std::lock_guard lock(mutex_);
    auto& slot = expected_[key_of(ono, property)];
    std::optional<std::vector<std::uint8_t>> before;
    if (!slot.empty()) {
        before = slot;
    }
    slot = std::move(value);
    return before;
}

void Aes70PropertyWatch::restore(OcaONo ono, OcaPropertyId property, std::optional<std::vector<std::uint8_t>> value) {
    std::lock_guard lock(mutex_);
    if (value) {
        expected_[key_of(ono, property)] = std::move(*value);
    } else {
        expected_.erase(key_of(ono, property));
    }
}

std::vector<std::pair<ParameterId, std::vector<std::uint8_t>>> Aes70PropertyWatch::expected_values() const {
    std::lock_guard lock(mutex_);
    std::vector<std::pair<ParameterId, std::vector<std::uint8_t>>> values;
    for (const auto& [key, id] : watched_) {
        if (const auto value = expected_.find(key); value != expected_.end()) {
            values.emplace_back(id, value->second);
        }
    }
    return values;
}

void Aes70PropertyWatch::on_notification(const Ocp1Notification& notification) {
    const auto& data = notification.event_data;
    if (notification.event != property_changed_event || data.size() < property_id_size + 1 ||
        data.back() != current_changed) {
        return;
    }
    const OcaPropertyId property{static_cast<std::uint16_t>((data[0] << 8) | data[1]),
                                 static_cast<std::uint16_t>((data[2] << 8) | data[3])};
    std::vector<std::uint8_t> value(data.begin() + property_id_size, data.end() - 1);

    std::function<void(const Aes70ForeignChange&)> on_change;
    Aes70ForeignChange change;
    {
        std::lock_guard lock(mutex_);
        const auto key = key_of(notification.emitter_ono, property);
        const auto watched = watched_.find(key);
        if (watched == watched_.end()) {
            return;
        }
        // The expected value stays as it is: linetune's own Set of the same property may be on
        // its way, and its notification must not count as a second change. linetune's next read
        // replaces it.
        if (const auto expected = expected_.find(key); expected != expected_.end() && expected->second == value) {
            return;  // linetune's own Set
        }
        change = {watched->second, notification.emitter_ono, std::move(value)};
        changes_.push_back(change);
        on_change = on_change_;
    }
    if (on_change) {
        on_change(change);
    }
}

std::optional<Aes70ForeignChange> Aes70PropertyWatch::take_change() {
    std::lock_guard lock(mutex_);
    if (changes_.empty()) {
        return std::nullopt;
    }
    auto change = std::move(changes_.front());
    changes_.erase(changes_.begin());
    return change;
}

void Aes70PropertyWatch::set_on_change(std::function<void(const Aes70ForeignChange&)> on_change) {
    std::lock_guard lock(mutex_);
    on_change_ = std::move(on_change);
}

}  // namespace linetune::control

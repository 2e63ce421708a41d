#include "linetune/analysis/biquad.hpp"
#include "linetune/analysis/smoothing.hpp"
#include "linetune/core/error.hpp"
#include "linetune/core/frequency_response.hpp"
#include "linetune/correction/eq_fitter.hpp"
#include "linetune/io/response_text.hpp"

#include "test_support.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

namespace {

using linetune::FrequencyResponse;
using linetune::analysis::band_magnitude_db;
using linetune::analysis::FilterType;
using linetune::analysis::ParametricBand;
using linetune::correction::ClassicEqFitter;
using linetune::correction::EqFitRequest;
using linetune::correction::EqFitResult;

// A flat response on a 1/48-octave grid from 20 Hz to 20 kHz.
FrequencyResponse flat_response() {
    FrequencyResponse response;
    response.freq_hz = linetune::log_frequency_grid(20.0, 20000.0, 48.0);
    response.magnitude_db.assign(response.freq_hz.size(), 0.0);
    return response;
}

FrequencyResponse flat_target() { return {{20.0, 20000.0}, {0.0, 0.0}, {}}; }

void add_bands(FrequencyResponse& response, const std::vector<ParametricBand>& bands, double sample_rate_hz) {
    for (const auto& band : bands) {
        for (std::size_t i = 0; i < response.size(); ++i) {
            response.magnitude_db[i] += band_magnitude_db(band, response.freq_hz[i], sample_rate_hz);
        }
    }
}

FrequencyResponse smoothed_sixth_octave(const FrequencyResponse& response) {
    return linetune::analysis::smooth_response(response, {linetune::analysis::SmoothingKind::fractional_octave, 6});
}

// The EQ of a result (sum of its bands in dB) at one frequency.
double eq_db_at(const EqFitResult& result, double freq_hz, double sample_rate_hz) {
    double sum = 0.0;
    for (const auto& band : result.bands) {
        sum += band_magnitude_db(band, freq_hz, sample_rate_hz);
    }
    return sum;
}

// Random peaking and shelving faults whose inverse the default limits can build: bells from
// −6 to +12 dB (the EQ cuts up to 15 dB but boosts only 6), Q 0.5 to 4; shelves ±4 dB.
std::vector<ParametricBand> random_faults(unsigned seed) {
    std::mt19937 generator(seed);
    std::uniform_int_distribution<int> count(3, 8);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    std::vector<ParametricBand> faults;
    const int fault_count = count(generator);
    for (int k = 0; k < fault_count; ++k) {
        const double kind = unit(generator);
        if (kind < 0.15) {
            faults.push_back({FilterType::low_shelf, 60.0 * std::pow(4.0, unit(generator)), -4.0 + 8.0 * unit(generator), 0.7071});
        } else if (kind < 0.3) {
            faults.push_back({FilterType::high_shelf, 3000.0 * std::pow(3.0, unit(generator)), -4.0 + 8.0 * unit(generator), 0.7071});
        } else {
            const double gain_db = unit(generator) < 0.6 ? 2.0 + 10.0 * unit(generator) : -2.0 - 4.0 * unit(generator);
            faults.push_back({FilterType::peaking, 50.0 * std::pow(250.0, unit(generator)), gain_db, 0.5 * std::pow(8.0, unit(generator))});
        }
    }
    return faults;
}

struct ErrorFigures {
    double rms_db = 0;
    double max_db = 0;
};

// RMS and maximum of predicted − target − offset between two frequencies (flat target).
ErrorFigures error_between(const EqFitResult& result, double low_hz, double high_hz) {
    double sum = 0.0;
    double largest = 0.0;
    std::size_t count = 0;
    for (std::size_t i = 0; i < result.predicted.size(); ++i) {
        const double f = result.predicted.freq_hz[i];
        if (f < low_hz || f > high_hz) {
            continue;
        }
        const double error = result.predicted.magnitude_db[i] - result.level_offset_db;
        sum += error * error;
        largest = std::max(largest, std::fabs(error));
        ++count;
    }
    return {std::sqrt(sum / static_cast<double>(count)), largest};
}

double max_eq_db(const EqFitResult& result, double low_hz, double high_hz, double sample_rate_hz) {
    double largest = -1e300;
    for (double f = low_hz; f <= high_hz; f *= std::exp2(1.0 / 96.0)) {
        largest = std::max(largest, eq_db_at(result, f, sample_rate_hz));
    }
    return largest;
}

bool is_multiple(double value, double step) {
    return std::fabs(value / step - std::round(value / step)) < 1e-6;
}

FrequencyResponse read_single_trace(const std::filesystem::path& path) {
    const auto traces = linetune::io::read_response_text(path);
    REQUIRE(!traces.empty());
    return traces.front().response;
}

}  // namespace

TEST_SUITE("correction") {

TEST_CASE("random faults are corrected to 0.2 dB RMS") {
    // Flat response with 3–8 faults, smoothed to 1/6 octave; error figures over 40 Hz – 16 kHz.
    const ClassicEqFitter fitter;
    for (unsigned seed = 1; seed <= 8; ++seed) {
        CAPTURE(seed);
        EqFitRequest request;
        request.measured = flat_response();
        add_bands(request.measured, random_faults(seed), request.limits.sample_rate_hz);
        request.measured = smoothed_sixth_octave(request.measured);
        request.target = flat_target();

        const auto result = fitter.fit(request);
        const auto figures = error_between(result, 40.0, 16000.0);
        CAPTURE(result.bands.size());
        CHECK(figures.rms_db <= 0.2);
        CHECK(figures.max_db <= 0.5);
        CHECK(result.bands.size() <= 10);
        CHECK(result.rms_after_db < result.rms_before_db);
    }
}

TEST_CASE("known bell is recovered") {
    // One peaking fault on a flat response: the fitted band is its inverse within 1 % in frequency
    // and Q and 0.1 dB in gain.
    EqFitRequest request;
    request.measured = flat_response();
    add_bands(request.measured, {{FilterType::peaking, 1250.0, 5.0, 2.0}}, request.limits.sample_rate_hz);
    request.target = flat_target();

    const auto result = ClassicEqFitter{}.fit(request);
    REQUIRE(result.bands.size() == 1);
    const auto& band = result.bands.front();
    CHECK(band.type == FilterType::peaking);
    CHECK(band.freq_hz == doctest::Approx(1250.0).epsilon(0.01));
    CHECK(band.gain_db == doctest::Approx(-5.0).epsilon(0.1 / 5.0));
    CHECK(band.q == doctest::Approx(2.0).epsilon(0.01));
    CHECK(std::fabs(result.level_offset_db) < 0.05);
    CHECK(result.rms_after_db < 0.05);
}

TEST_CASE("deep narrow dip gets at most 1 dB of boost") {
    EqFitRequest request;
    request.measured = flat_response();
    add_bands(request.measured, {{FilterType::peaking, 2000.0, -20.0, 10.0}}, request.limits.sample_rate_hz);
    request.target = flat_target();

    const auto result = ClassicEqFitter{}.fit(request);
    const double fs = request.limits.sample_rate_hz;
    CHECK(eq_db_at(result, 2000.0, fs) <= 1.0);
    CHECK(max_eq_db(result, 1600.0, 2500.0, fs) <= 1.0);

    // The dip's centre is reported as not correctable, a point an octave away as correctable.
    const auto& freq_hz = result.predicted.freq_hz;
    const auto centre = static_cast<std::size_t>(
        std::min_element(freq_hz.begin(), freq_hz.end(), [](double a, double b) {
            return std::fabs(std::log(a / 2000.0)) < std::fabs(std::log(b / 2000.0));
        }) - freq_hz.begin());
    CHECK_FALSE(result.correctable[centre]);
    CHECK(result.correctable[centre + 48]);
}

TEST_CASE("tweeter zone gets no boost below its band") {
    // A tweeter behind a 1 kHz 4th-order high-pass (two Butterworth sections), with an in-band peak
    // and dip; zone band 1 kHz – 20 kHz. Tolerance: under 0.1 dB of boost anywhere below 1 kHz.
    EqFitRequest request;
    request.measured = flat_response();
    const double fs = request.limits.sample_rate_hz;
    add_bands(request.measured,
              {{FilterType::high_pass, 1000.0, 0.0, 0.7071}, {FilterType::high_pass, 1000.0, 0.0, 0.7071},
               {FilterType::peaking, 3000.0, 4.0, 2.0}, {FilterType::peaking, 9000.0, -3.0, 1.5}},
              fs);
    request.measured = smoothed_sixth_octave(request.measured);
    request.target = flat_target();
    request.band_start_hz = 1000.0;

    const auto result = ClassicEqFitter{}.fit(request);
    CHECK(max_eq_db(result, 20.0, 999.0, fs) < 0.1);
    CHECK(result.rms_after_db < result.rms_before_db);
    for (const auto& band : result.bands) {
        CHECK(band.freq_hz >= 1000.0);
    }
}

TEST_CASE("edge peak is cut to band level") {
    // An 8 dB, Q 2 peak centred on the lower edge of a 100 Hz – 2 kHz band. Outside the band the EQ
    // may cut the peak down to the in-band level (here 0 dB) and no further (2 dB of slack), and
    // may not boost (0.1 dB). Inside, the error falls to 0.5 dB RMS.
    EqFitRequest request;
    request.measured = flat_response();
    const double fs = request.limits.sample_rate_hz;
    add_bands(request.measured, {{FilterType::peaking, 100.0, 8.0, 2.0}}, fs);
    request.measured = smoothed_sixth_octave(request.measured);
    request.target = flat_target();
    request.band_start_hz = 100.0;
    request.band_end_hz = 2000.0;

    const auto result = ClassicEqFitter{}.fit(request);
    MESSAGE("RMS " << result.rms_before_db << " -> " << result.rms_after_db << " dB, level "
                   << result.level_offset_db << " dB, " << result.bands.size() << " bands");
    CHECK(result.rms_after_db <= 0.5);
    CHECK(max_eq_db(result, 20.0, 99.9, fs) <= 0.1 + 1e-6);
    double lowest_outside_db = 1e300;
    for (double f = 20.0; f < 99.9; f *= std::exp2(1.0 / 96.0)) {
        const double measured_db = linetune::interpolate_magnitude_db(request.measured, f);
        lowest_outside_db = std::min(lowest_outside_db, measured_db + eq_db_at(result, f, fs));
    }
    CHECK(lowest_outside_db >= result.level_offset_db - 2.0 - 0.2);
}

TEST_CASE("limits are respected and rounded to steps") {
    EqFitRequest request;
    request.measured = flat_response();
    add_bands(request.measured, random_faults(11), 48000.0);
    add_bands(request.measured, random_faults(12), 48000.0);
    request.measured = smoothed_sixth_octave(request.measured);
    request.target = flat_target();
    auto& limits = request.limits;
    limits.max_bands = 4;
    limits.allowed_types = {FilterType::peaking};
    limits.min_freq_hz = 50;
    limits.max_freq_hz = 12000;
    limits.min_gain_db = -8;
    limits.max_gain_db = 3;
    limits.min_q = 0.5;
    limits.max_q = 5;
    limits.freq_step_hz = 5;
    limits.gain_step_db = 0.5;
    limits.q_step = 0.1;

    const auto result = ClassicEqFitter{}.fit(request);
    CHECK(!result.bands.empty());
    CHECK(result.bands.size() <= 4);
    for (const auto& band : result.bands) {
        CAPTURE(band.freq_hz);
        CHECK(band.type == FilterType::peaking);
        CHECK(band.freq_hz >= 50.0);
        CHECK(band.freq_hz <= 12000.0);
        CHECK(band.gain_db >= -8.0);
        CHECK(band.gain_db <= 3.0);
        CHECK(band.q >= 0.5);
        CHECK(band.q <= 5.0);
        CHECK(is_multiple(band.freq_hz, 5.0));
        CHECK(is_multiple(band.gain_db, 0.5));
        CHECK(is_multiple(band.q, 0.1));
    }
    // Overlapping bands together stay under the boost cap (1e-6 dB slack).
    CHECK(max_eq_db(result, 20.0, 20000.0, limits.sample_rate_hz) <= 3.0 + 1e-6);
}

TEST_CASE("zero boost cap gives cuts only") {
    EqFitRequest request;
    request.measured = flat_response();
    add_bands(request.measured, {{FilterType::peaking, 60.0, 6.0, 1.0}, {FilterType::peaking, 45.0, -6.0, 2.0}}, 48000.0);
    request.target = flat_target();
    request.band_end_hz = 120.0;
    request.limits.max_gain_db = 0.0;

    const auto result = ClassicEqFitter{}.fit(request);
    CHECK(!result.bands.empty());
    for (const auto& band : result.bands) {
        CHECK(band.gain_db <= 0.0);
    }
    CHECK(max_eq_db(result, 20.0, 20000.0, 48000.0) <= 1e-6);
}

TEST_CASE("device sample rate caps band frequency") {
    // At 32 kHz nothing may sit above 0.45 · 32 kHz = 14.4 kHz, even for a fault at 15 kHz.
    EqFitRequest request;
    request.measured = flat_response();
    request.limits.sample_rate_hz = 32000.0;
    request.measured.freq_hz = linetune::log_frequency_grid(20.0, 15900.0, 48.0);
    request.measured.magnitude_db.assign(request.measured.freq_hz.size(), 0.0);
    add_bands(request.measured, {{FilterType::peaking, 15000.0, 6.0, 2.0}, {FilterType::peaking, 800.0, 6.0, 2.0}}, 48000.0);
    request.target = flat_target();

    const auto result = ClassicEqFitter{}.fit(request);
    CHECK(!result.bands.empty());
    for (const auto& band : result.bands) {
        CHECK(band.freq_hz <= 14400.0);
    }
}

TEST_CASE("helix bell A/B pairs identify the filter set") {
    // after − before of one DSP channel with one peaking band changed (400 Hz): one fitted band
    // matches the entered filter within 2 % in frequency, 0.3 dB in gain and 5 % in Q.
    if (!linetune::test::shared_data_available()) {
        return;
    }
    struct Pair {
        std::string name;
        double gain_db;
        double q;
    };
    const auto folder = linetune::test::shared_data_dir() / "autosound-measurements" / "hardware" / "helix" /
                        "dsp-ultra-s" / "measurements";
    int found = 0;
    for (const Pair& pair : {Pair{"fact5-bell-cut-q1", -12.0, 1.0}, Pair{"fact5-bell-cut-q4", -12.0, 4.0},
                             Pair{"fact5-bell-boost-q4", 12.0, 4.0}}) {
        CAPTURE(pair.name);
        const auto before_path = folder / (pair.name + "-before.txt");
        const auto after_path = folder / (pair.name + "-after.txt");
        if (!std::filesystem::exists(before_path) || !std::filesystem::exists(after_path)) {
            MESSAGE("skipped " << pair.name << ": measurement pair not present");
            continue;
        }
        ++found;
        const auto before = read_single_trace(before_path);
        const auto after = read_single_trace(after_path);

        EqFitRequest request;
        request.measured.freq_hz = before.freq_hz;
        for (std::size_t i = 0; i < before.size(); ++i) {
            request.measured.magnitude_db.push_back(linetune::interpolate_magnitude_db(after, before.freq_hz[i]) -
                                                    before.magnitude_db[i]);
        }
        request.target = flat_target();
        request.limits.max_bands = 1;
        request.limits.allowed_types = {FilterType::peaking};
        request.limits.min_gain_db = -15.0;
        request.limits.max_gain_db = 15.0;
        request.limits.sample_rate_hz = 96000.0;

        // The fitted band corrects the change, so it is the entered filter with the gain negated.
        const auto result = ClassicEqFitter{}.fit(request);
        REQUIRE(result.bands.size() == 1);
        const auto& band = result.bands.front();
        MESSAGE(pair.name << ": " << band.freq_hz << " Hz, " << -band.gain_db << " dB, Q " << band.q
                          << ", residual " << result.rms_after_db << " dB RMS");
        CHECK(band.freq_hz == doctest::Approx(400.0).epsilon(0.02));
        CHECK(-band.gain_db == doctest::Approx(pair.gain_db).epsilon(0.3 / 12.0));
        CHECK(band.q == doctest::Approx(pair.q).epsilon(0.05));
    }
    CHECK(found >= 1);
}

TEST_CASE("car RTA curves tune within their edges") {
    // Moving-mic RTA per driver, smoothed to 1/6 octave, flat target. Each driver's band runs
    // between the acoustic junctions of the set's plan at 70, 320 and 3500 Hz, the sub from 20 Hz.
    // The DSP states' electrical corners (sub 88 Hz, woofers 86–215 Hz, mids 460–2000 Hz,
    // tweeters 3625 Hz) were chosen to put the acoustic crossovers at these junctions. So each
    // band is where its driver is the one that plays. The centre, which the plan leaves out, uses
    // the LR24 pass band of the current DSP state. Outside its band the EQ boosts by at most 0.1 dB.
    if (!linetune::test::shared_data_available()) {
        return;
    }
    struct Driver {
        std::string channel;
        double band_start_hz;
        double band_end_hz;
        double max_rms_db;
    };
    const auto folder = linetune::test::shared_data_dir() / "autosound-measurements" / "cars" /
                        "vw-passat-b8-sedan-lhd" / "2026-06-15_front-set-01" / "rta-mmm";
    for (const Driver& driver : {Driver{"sw", 20.0, 70.0, 1.0}, Driver{"w_L", 70.0, 320.0, 1.0},
                                 Driver{"w_R", 70.0, 320.0, 1.0}, Driver{"m_L", 320.0, 3500.0, 1.0},
                                 Driver{"m_R", 320.0, 3500.0, 1.0}, Driver{"tw_L", 3500.0, 20000.0, 1.0},
                                 Driver{"tw_R", 3500.0, 20000.0, 1.0}, Driver{"c", 714.0, 1897.0, 1.0}}) {
        CAPTURE(driver.channel);
        EqFitRequest request;
        request.measured = smoothed_sixth_octave(read_single_trace(folder / (driver.channel + ".txt")));
        request.target = flat_target();
        request.band_start_hz = driver.band_start_hz;
        request.band_end_hz = driver.band_end_hz;
        request.limits.sample_rate_hz = 96000.0;

        const auto result = ClassicEqFitter{}.fit(request);
        MESSAGE(driver.channel << ": " << result.bands.size() << " bands, RMS " << result.rms_before_db << " -> "
                               << result.rms_after_db << " dB, max " << result.max_after_db << " dB");
        CHECK(result.bands.size() <= 10);
        CHECK(result.rms_after_db <= driver.max_rms_db);
        CHECK(result.rms_after_db < result.rms_before_db);
        CHECK(max_eq_db(result, 10.0, 40000.0, 96000.0) <= 6.0 + 1e-6);
        CHECK(max_eq_db(result, 10.0, 0.999 * driver.band_start_hz, 96000.0) <= 0.1 + 1e-6);
        CHECK(max_eq_db(result, 1.001 * driver.band_end_hz, 40000.0, 96000.0) <= 0.1 + 1e-6);
    }
}

TEST_CASE("headphone response tunes to 1 dB RMS") {
    if (!linetune::test::shared_data_available()) {
        return;
    }
    EqFitRequest request;
    request.measured = smoothed_sixth_octave(
        read_single_trace(linetune::test::shared_data_dir() / "responses" / "autoeq" / "oratory1990_AKG_K701.csv"));
    request.target = flat_target();

    const auto result = ClassicEqFitter{}.fit(request);
    MESSAGE("AKG K701: " << result.bands.size() << " bands, RMS " << result.rms_before_db << " -> "
                         << result.rms_after_db << " dB");
    CHECK(result.bands.size() <= 10);
    CHECK(result.rms_after_db <= 1.0);
    CHECK(max_eq_db(result, 10.0, 24000.0, 48000.0) <= 6.0 + 1e-6);
}

TEST_CASE("invalid requests are rejected with the value at fault") {
    const ClassicEqFitter fitter;
    EqFitRequest empty;
    empty.target = flat_target();
    CHECK_THROWS_AS(fitter.fit(empty), linetune::Error);

    EqFitRequest reversed_band;
    reversed_band.measured = flat_response();
    reversed_band.target = flat_target();
    reversed_band.band_start_hz = 5000.0;
    reversed_band.band_end_hz = 1000.0;
    try {
        (void)fitter.fit(reversed_band);
        FAIL("no error for a reversed band");
    } catch (const linetune::Error& error) {
        CHECK(error.kind() == linetune::ErrorKind::configuration);
        CHECK(std::string(error.what()).find("5000 Hz") != std::string::npos);
    }

    EqFitRequest bad_q = reversed_band;
    bad_q.band_start_hz = 20.0;
    bad_q.band_end_hz = 20000.0;
    bad_q.limits.min_q = 0.0;
    try {
        (void)fitter.fit(bad_q);
        FAIL("no error for min_q 0");
    } catch (const linetune::Error& error) {
        CHECK(error.kind() == linetune::ErrorKind::configuration);
        CHECK(std::string(error.what()).find("min_q 0") != std::string::npos);
    }

    EqFitRequest unsorted = bad_q;
    unsorted.limits.min_q = 0.3;
    std::swap(unsorted.measured.freq_hz[10], unsorted.measured.freq_hz[11]);
    CHECK_THROWS_AS(fitter.fit(unsorted), linetune::Error);
}

TEST_CASE("band outside the measurement yields no bands") {
    EqFitRequest request;
    request.measured = flat_response();
    request.measured.freq_hz = linetune::log_frequency_grid(20.0, 200.0, 48.0);
    request.measured.magnitude_db.assign(request.measured.freq_hz.size(), 3.0);
    request.target = flat_target();
    request.band_start_hz = 2000.0;

    const auto result = ClassicEqFitter{}.fit(request);
    CHECK(result.bands.empty());
    CHECK(!result.notes.empty());
    CHECK(result.predicted.size() == request.measured.size());
}

}  // TEST_SUITE

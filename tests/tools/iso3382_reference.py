#!/usr/bin/python3
"""Compute ISO 3382-1 room-acoustic parameters of an impulse response WAV file.

This is an independent reference for the comparison test of linetune's C++
metrics. It is written from the definitions below, not from the C++ code, and
uses numpy and scipy only (Debian's python3-numpy and python3-scipy).

Definitions (ISO 3382-1:2009, with the choices both implementations share):

* Start sample: the first sample whose |x| is within 20 dB of the peak |x| of
  the analysed channel. Every octave band uses the broadband start sample.
* Octave bands: nominal centres 63 Hz to 8 kHz, exact centres
  fm = 1000 * 10^(3k/10) (IEC 61260-1, base 10), edges fm * 10^(-3/20) and
  fm * 10^(+3/20). Each band is a third-order Butterworth band-pass, run
  causally (scipy.signal.sosfilt) over the whole channel. A band whose upper
  edge exceeds 0.45 * fs is skipped. "Broadband" is the unfiltered channel.
* Decay curve: Schroeder backward integration of h^2 from the start sample,
  truncated at the Lundeby crosspoint and compensated for the energy that the
  fitted late decay would contain after it (Lundeby, Vigran, Bietz, Vorlaender,
  "Uncertainties of measurements in room acoustics", Acustica 81, 1995).
* EDT, T20, T30: least-squares line through the decay curve (level in dB
  against time) over 0 to -10 dB, -5 to -25 dB and -5 to -35 dB. The
  reverberation time is -60 / slope. A value is not reported (null) when the
  usable decay, which ends 10 dB above the noise level, does not reach the
  bottom of its evaluation range.
* C50, C80 = 10 * log10(E[start, start + 50/80 ms) / E[start + 50/80 ms, inf))
  and D50 = E[start, start + 50 ms) / E[start, inf), with E the sum of h^2 up
  to the Lundeby crosspoint plus the compensation tail of the decay curve, so
  that background noise after the crosspoint does not count as late sound.
  A ratio whose limit lies beyond the crosspoint is not reported.

Besides the keys that linetune also prints, each metrics object carries
edt_correlation, t20_correlation and t30_correlation (Pearson r of each
regression), noise_level_db (Lundeby noise level re the peak of the averaged
energy envelope) and crosspoint_s (Lundeby crosspoint, counted from the start
sample). Each band also has exact_center_hz, and each channel start_sample.

Usage: iso3382_reference.py FILE.wav [--channel N]   (prints JSON on stdout)
       iso3382_reference.py --self-test              (synthetic decays)
"""

import argparse
import json
import math
import os
import sys
import warnings

import numpy as np
import scipy.io.wavfile
import scipy.signal

# Nominal octave-band centres (Hz) and the band index k of the base-10 series
# fm = 1000 * 10^(3k/10): 63 Hz is k = -4, 8 kHz is k = 3.
NOMINAL_OCTAVE_CENTRES_HZ = (63, 125, 250, 500, 1000, 2000, 4000, 8000)
FIRST_OCTAVE_INDEX = -4

# Order of the Butterworth band-pass prototype. scipy doubles it for a
# band-pass, so each band filter has 6 poles.
BAND_FILTER_ORDER = 3

# A band is skipped when its upper edge exceeds this fraction of fs. Closer
# to Nyquist the bilinear transform warps the band edges noticeably.
MAX_UPPER_EDGE_FRACTION_OF_FS = 0.45

# The start sample is the first one within this many dB of the peak |x|.
START_THRESHOLD_DB = 20.0

# Evaluation ranges (upper dB, lower dB) of the decay curve. Each parameter
# is reported as NAME_s with its regression coefficient as NAME_correlation.
DECAY_RANGES_DB = {
    "edt": (0.0, -10.0),
    "t20": (-5.0, -25.0),
    "t30": (-5.0, -35.0),
}

# The usable decay ends this many dB above the noise level, because ISO 3382-1
# requires the bottom of the evaluation range to lie at least 10 dB above noise.
USABLE_MARGIN_ABOVE_NOISE_DB = 10.0

# Early/late limits of the clarity and definition parameters, in ms.
CLARITY_LIMITS_MS = {"c50_db": 50.0, "c80_db": 80.0}
DEFINITION_LIMIT_MS = 50.0


class Lundeby:
    """Tuning of the Lundeby noise and crosspoint estimate.

    Lundeby et al. (Acustica 81, 1995) give a range for each choice, quoted
    below, and the values used here lie inside those ranges.
    """

    # Averaging window of the first pass (Lundeby: 10-50 ms). Shorter windows
    # leave the envelope noisy, and longer ones smear a short decay.
    initial_window_s = 0.010
    # The first noise estimate is the mean energy of this tail fraction.
    noise_tail_fraction = 0.10
    # The first regression runs from 0 dB down to noise + this margin.
    regression_margin_above_noise_db = 10.0
    # Averaging windows per 10 dB of decay after the first pass (Lundeby: 3-10).
    # More windows follow a fast decay more closely but average less noise.
    windows_per_10_db = 5
    # The noise estimate starts where the decay line is this far below the
    # crosspoint level (Lundeby: 5-10 dB), but no later than the last
    # noise_tail_fraction of the response.
    noise_start_below_crosspoint_db = 10.0
    # The late decay is fitted over this range, ending
    # regression_margin_above_noise_db above the noise (Lundeby: 10-20 dB).
    late_decay_range_db = 20.0
    # The iteration stops after this many passes or when the crosspoint moves
    # less than crosspoint_tolerance_s.
    max_iterations = 5
    crosspoint_tolerance_s = 0.001


class InputError(Exception):
    """Unreadable or unusable input file, with a message that names the file and the fix."""


def read_wav(path):
    """Read a WAV file as float64 samples scaled to +-1.0, shape (channels, frames)."""
    try:
        with warnings.catch_warnings():
            # scipy warns when it skips chunks such as bext, LIST or FLLR, which is harmless here.
            warnings.simplefilter("ignore", scipy.io.wavfile.WavFileWarning)
            sample_rate_hz, data = scipy.io.wavfile.read(path)
    except (OSError, ValueError) as error:
        raise InputError(f"file '{path}': could not be read as WAV ({error}). "
                         "Check that it is a PCM or float WAV file") from error

    if data.dtype == np.uint8:
        samples = (data.astype(np.float64) - 128.0) / 128.0
    elif data.dtype == np.int16:
        samples = data.astype(np.float64) / 32768.0
    elif data.dtype == np.int32:
        # scipy returns 24-bit PCM left-aligned in int32, so the same scale
        # fits 24-bit and 32-bit PCM.
        samples = data.astype(np.float64) / 2147483648.0
    elif data.dtype in (np.float32, np.float64):
        samples = data.astype(np.float64)
    else:
        raise InputError(f"file '{path}': sample type {data.dtype} is not supported. "
                         "Convert it to 16/24/32-bit PCM or float WAV")

    if samples.ndim == 1:
        samples = samples[np.newaxis, :]
    else:
        samples = samples.T
    return float(sample_rate_hz), np.ascontiguousarray(samples)


def find_start_sample(channel):
    """Return the index of the first sample within START_THRESHOLD_DB of the peak |x|."""
    # NOTE: the peak is that of the analysed channel, not of the whole file. In a
    # multichannel file with unequal channel levels an implementation that uses
    # the file-wide peak finds a later start (or none) in the quieter channels.
    magnitude = np.abs(channel)
    peak = magnitude.max()
    if peak <= 0.0:
        return None
    threshold = peak * 10.0 ** (-START_THRESHOLD_DB / 20.0)
    return int(np.argmax(magnitude >= threshold))


def octave_bands(sample_rate_hz):
    """Return (nominal centre, exact centre, lower edge, upper edge) in Hz of each usable band."""
    bands = []
    for offset, nominal_hz in enumerate(NOMINAL_OCTAVE_CENTRES_HZ):
        index = FIRST_OCTAVE_INDEX + offset
        centre_hz = 1000.0 * 10.0 ** (3.0 * index / 10.0)
        lower_hz = centre_hz * 10.0 ** (-3.0 / 20.0)
        upper_hz = centre_hz * 10.0 ** (3.0 / 20.0)
        if upper_hz > MAX_UPPER_EDGE_FRACTION_OF_FS * sample_rate_hz:
            continue
        bands.append((nominal_hz, centre_hz, lower_hz, upper_hz))
    return bands


def filter_octave_band(channel, sample_rate_hz, lower_hz, upper_hz):
    """Band-pass the whole channel causally with the third-order Butterworth prototype."""
    sections = scipy.signal.butter(BAND_FILTER_ORDER, [lower_hz, upper_hz], "bandpass",
                                   fs=sample_rate_hz, output="sos")
    return scipy.signal.sosfilt(sections, channel)


def average_in_windows(energy, window_samples):
    """Average energy over consecutive windows and return (level in dB, window centre in samples)."""
    starts = np.arange(0, len(energy), window_samples)
    sums = np.add.reduceat(energy, starts)
    lengths = np.diff(np.append(starts, len(energy)))
    mean_energy = sums / lengths
    tiny = np.finfo(np.float64).tiny
    level_db = 10.0 * np.log10(np.maximum(mean_energy, tiny))
    centres = starts + 0.5 * lengths
    return level_db, centres


def fit_line(x, y):
    """Fit y = intercept + slope * x by least squares and return (slope, intercept, r)."""
    x_mean = x.mean()
    y_mean = y.mean()
    dx = x - x_mean
    dy = y - y_mean
    sxx = np.dot(dx, dx)
    syy = np.dot(dy, dy)
    if sxx <= 0.0:
        return None
    slope = np.dot(dx, dy) / sxx
    intercept = y_mean - slope * x_mean
    r = np.dot(dx, dy) / math.sqrt(sxx * syy) if syy > 0.0 else 0.0
    return slope, intercept, r


def fit_level_range(level_db, times, upper_db, lower_db):
    """Fit a line to the first stretch of level_db that runs from upper_db down to lower_db.

    The stretch starts at the first point at or below upper_db and ends before
    the first later point below lower_db. Returns (slope, intercept, r) or None
    when fewer than two points lie in it or the level never falls below lower_db.
    """
    at_or_below_upper = np.flatnonzero(level_db <= upper_db)
    if len(at_or_below_upper) == 0:
        return None
    first = at_or_below_upper[0]
    below_lower = np.flatnonzero(level_db[first:] < lower_db)
    if len(below_lower) == 0:
        return None
    end = first + below_lower[0]
    if end - first < 2:
        return None
    return fit_line(times[first:end], level_db[first:end])


def estimate_lundeby(energy, sample_rate_hz):
    """Estimate noise level, crosspoint and late decay of an energy envelope (Lundeby 1995).

    energy is h^2 from the start sample on. Returns a dict with the crosspoint
    and the late-decay line (level_db = intercept_db + slope_db_per_sample * n,
    on the absolute energy scale), or None when no decay is found at least
    regression_margin_above_noise_db above the noise.
    """
    frame_count = len(energy)
    tail_start = int(round((1.0 - Lundeby.noise_tail_fraction) * frame_count))
    if frame_count < 2 or tail_start >= frame_count:
        return None

    # Steps 1-2: coarse envelope and a noise estimate from the last 10 %.
    window = max(1, int(round(Lundeby.initial_window_s * sample_rate_hz)))
    level_db, centres = average_in_windows(energy, window)
    noise_db = 10.0 * math.log10(max(energy[tail_start:].mean(), np.finfo(np.float64).tiny))

    # Step 3: regression from the envelope maximum (0 dB) to noise + 10 dB.
    peak_index = int(np.argmax(level_db))
    line = fit_level_range(level_db[peak_index:], centres[peak_index:], level_db[peak_index],
                           noise_db + Lundeby.regression_margin_above_noise_db)
    if line is None or line[0] >= 0.0:
        return None
    slope, intercept, _ = line

    # Step 4: preliminary crosspoint of the decay line with the noise level.
    crosspoint = (noise_db - intercept) / slope

    # Steps 5-6: a finer envelope, windows_per_10_db windows per 10 dB of decay.
    samples_per_10_db = 10.0 / -slope
    window = max(1, int(round(samples_per_10_db / Lundeby.windows_per_10_db)))
    level_db, centres = average_in_windows(energy, window)
    peak_index = int(np.argmax(level_db))
    peak_db = level_db[peak_index]

    # Steps 7-9, iterated: noise from behind the crosspoint, late decay fit, new crosspoint.
    tolerance_samples = Lundeby.crosspoint_tolerance_s * sample_rate_hz
    for _ in range(Lundeby.max_iterations):
        noise_start = crosspoint + Lundeby.noise_start_below_crosspoint_db / -slope
        noise_start = int(min(max(noise_start, 0.0), tail_start))
        noise_db = 10.0 * math.log10(max(energy[noise_start:].mean(), np.finfo(np.float64).tiny))

        lower_db = noise_db + Lundeby.regression_margin_above_noise_db
        upper_db = min(lower_db + Lundeby.late_decay_range_db, peak_db)
        late = fit_level_range(level_db[peak_index:], centres[peak_index:], upper_db, lower_db)
        if late is None or late[0] >= 0.0:
            break
        slope, intercept, _ = late

        previous = crosspoint
        crosspoint = (noise_db - intercept) / slope
        if abs(crosspoint - previous) < tolerance_samples:
            break

    return {
        "crosspoint_samples": float(crosspoint),
        "slope_db_per_sample": float(slope),
        "intercept_db": float(intercept),
        "noise_db": float(noise_db),
        "peak_db": float(peak_db),
    }


def compensated_decay_curve(energy, lundeby):
    """Return the Schroeder decay curve in dB re total energy, with the Lundeby tail added.

    The tail is the energy of the late-decay line after the crosspoint n_c:
      sum_{n >= n_c} 10^((a + b n)/10) ~= E(n_c) / k,  k = -b ln(10) / 10,
    with E(n_c) = 10^((a + b n_c)/10). If the crosspoint lies beyond the last
    sample the integration runs to the end and the tail starts there.
    """
    end = int(min(max(round(lundeby["crosspoint_samples"]), 1), len(energy)))
    slope = lundeby["slope_db_per_sample"]
    level_at_end_db = lundeby["intercept_db"] + slope * end
    decay_rate_per_sample = -slope * math.log(10.0) / 10.0
    tail_energy = 10.0 ** (level_at_end_db / 10.0) / decay_rate_per_sample

    backward_sum = np.cumsum(energy[:end][::-1])[::-1] + tail_energy
    return 10.0 * np.log10(backward_sum / backward_sum[0])


def reverberation_metrics(energy, sample_rate_hz):
    """Compute EDT, T20 and T30 with their regression coefficients and the Lundeby figures."""
    result = {"noise_level_db": None, "crosspoint_s": None}
    for name in DECAY_RANGES_DB:
        result[f"{name}_s"] = None
        result[f"{name}_correlation"] = None

    lundeby = estimate_lundeby(energy, sample_rate_hz)
    if lundeby is None:
        return result
    result["noise_level_db"] = lundeby["noise_db"] - lundeby["peak_db"]
    result["crosspoint_s"] = lundeby["crosspoint_samples"] / sample_rate_hz

    decay_db = compensated_decay_curve(energy, lundeby)
    times_s = np.arange(len(decay_db)) / sample_rate_hz

    # The usable decay ends where the late-decay line is 10 dB above noise.
    usable_end = lundeby["crosspoint_samples"] - (
        USABLE_MARGIN_ABOVE_NOISE_DB / -lundeby["slope_db_per_sample"])
    usable_end = int(min(usable_end, len(decay_db) - 1))
    if usable_end <= 0:
        return result
    usable_bottom_db = decay_db[usable_end]

    for name, (upper_db, lower_db) in DECAY_RANGES_DB.items():
        if usable_bottom_db > lower_db:
            continue
        line = fit_level_range(decay_db[:usable_end + 1], times_s[:usable_end + 1],
                               upper_db, lower_db)
        if line is None or line[0] >= 0.0:
            continue
        result[f"{name}_s"] = -60.0 / line[0]
        result[f"{name}_correlation"] = line[2]
    return result


def energy_ratio_metrics(energy, sample_rate_hz, lundeby):
    """Compute C50, C80 (dB) and D50 from the energy after the start sample.

    The total energy is the measured energy up to the Lundeby crosspoint plus
    the tail the fitted decay line holds after it (the same compensation as the
    decay curve). Without a Lundeby result the plain sums to the file end are used.
    """
    limits_ms = dict(CLARITY_LIMITS_MS, d50=DEFINITION_LIMIT_MS)
    result = {key: None for key in limits_ms}
    if lundeby is None:
        end, tail_energy = len(energy), 0.0
    else:
        end = int(min(max(round(lundeby["crosspoint_samples"]), 1), len(energy)))
        level_at_end_db = lundeby["intercept_db"] + lundeby["slope_db_per_sample"] * end
        tail_energy = 10.0 ** (level_at_end_db / 10.0) / (-lundeby["slope_db_per_sample"] * math.log(10.0) / 10.0)
    cumulative = np.concatenate(([0.0], np.cumsum(energy[:end])))
    total = cumulative[-1] + tail_energy
    for key, limit_ms in limits_ms.items():
        split = int(round(limit_ms * 1e-3 * sample_rate_hz))
        if split >= end or total <= 0.0:
            continue
        early = cumulative[split]
        late = total - early
        if key == "d50":
            result[key] = early / total
        elif early > 0.0 and late > 0.0:
            result[key] = 10.0 * math.log10(early / late)
    return result


def signal_metrics(signal, start, sample_rate_hz):
    """Compute all metrics of one broadband or band-filtered signal from the start sample."""
    energy = np.square(signal[start:])
    metrics = reverberation_metrics(energy, sample_rate_hz)
    metrics.update(energy_ratio_metrics(energy, sample_rate_hz, estimate_lundeby(energy, sample_rate_hz)))
    return metrics


def analyse_channel(channel, sample_rate_hz):
    """Compute broadband and octave-band metrics of one channel, or None if it is silent."""
    start = find_start_sample(channel)
    if start is None:
        return None

    metrics = signal_metrics(channel, start, sample_rate_hz)
    metrics["octave_bands"] = []
    for nominal_hz, centre_hz, lower_hz, upper_hz in octave_bands(sample_rate_hz):
        band_signal = filter_octave_band(channel, sample_rate_hz, lower_hz, upper_hz)
        band = {"center_hz": nominal_hz, "exact_center_hz": centre_hz}
        band.update(signal_metrics(band_signal, start, sample_rate_hz))
        metrics["octave_bands"].append(band)
    return {"start_sample": start, "metrics": metrics}


def analyse_file(path, channel_number=None):
    """Compute the metrics of every channel of a WAV file, or of one (1-based) channel."""
    sample_rate_hz, samples = read_wav(path)
    channel_count = samples.shape[0]
    if channel_number is None:
        channel_numbers = range(1, channel_count + 1)
    elif 1 <= channel_number <= channel_count:
        channel_numbers = [channel_number]
    else:
        raise InputError(f"file '{path}': channel {channel_number} not found because the file "
                         f"has {channel_count}. Pick a channel from 1 to {channel_count}")

    channels = []
    for number in channel_numbers:
        analysis = analyse_channel(samples[number - 1], sample_rate_hz)
        if analysis is None:
            raise InputError(f"file '{path}', channel {number}: every sample is 0, "
                             "so there is no impulse response to analyse")
        channels.append({"channel": number, **analysis})
    return {"file": path, "sample_rate_hz": sample_rate_hz,
            "frame_count": int(samples.shape[1]), "channels": channels}


def synthetic_decay(reverberation_time_s, noise_level_db, sample_rate_hz, duration_s, seed):
    """Return Gaussian noise decaying 60 dB in reverberation_time_s, plus stationary noise.

    The noise floor is noise_level_db relative to the energy envelope at t = 0.
    """
    generator = np.random.default_rng(seed)
    times_s = np.arange(int(duration_s * sample_rate_hz)) / sample_rate_hz
    envelope = 10.0 ** (-3.0 * times_s / reverberation_time_s)
    floor = 10.0 ** (noise_level_db / 20.0)
    return (generator.standard_normal(len(times_s)) * envelope
            + floor * generator.standard_normal(len(times_s)))


def run_self_test():
    """Check the broadband metrics on synthetic decays with known values and return the exit code."""
    sample_rate_hz = 48000.0
    failures = 0
    # (T60 in s, noise level dB re initial energy, file length in s). At
    # -48 dB a plain Schroeder integral over the whole file gives T30 near
    # 3.8 s for T60 = 1 s, so that case fails without the Lundeby compensation.
    cases = [(0.5, -70.0, 2.0), (1.2, -60.0, 4.0), (2.0, -55.0, 6.0), (1.0, -48.0, 3.0)]
    for case_index, (reverberation_time_s, noise_level_db, duration_s) in enumerate(cases):
        signal = synthetic_decay(reverberation_time_s, noise_level_db, sample_rate_hz,
                                 duration_s, seed=case_index)
        metrics = analyse_channel(signal, sample_rate_hz)["metrics"]

        # An exponential energy decay exp(-t/tau), tau = T / (6 ln 10), gives
        # C_t = 10 log10(exp(t/tau) - 1) for a limit t.
        tau_s = reverberation_time_s / (6.0 * math.log(10.0))
        expected = {f"{name}_s": reverberation_time_s for name in DECAY_RANGES_DB}
        expected["c80_db"] = 10.0 * math.log10(math.expm1(0.080 / tau_s))
        expected["c50_db"] = 10.0 * math.log10(math.expm1(0.050 / tau_s))
        expected["d50"] = -math.expm1(-0.050 / tau_s)

        label = f"T={reverberation_time_s:.1f} s noise={noise_level_db:.0f} dB"
        for key, expected_value in expected.items():
            measured = metrics[key]
            # 3 % on times and D50 (random envelope of a finite decay), 0.2 dB on C.
            if key.endswith("_db"):
                passed = measured is not None and abs(measured - expected_value) <= 0.2
            else:
                passed = (measured is not None
                          and abs(measured - expected_value) <= 0.03 * expected_value)
            failures += 0 if passed else 1
            measured_text = "null" if measured is None else f"{measured:.4f}"
            print(f"{label} {key:7s} expected {expected_value:.4f} measured {measured_text} "
                  f"{'ok' if passed else 'FAIL'}")

    # With noise 40 dB below the decay start the usable decay ends near
    # -30 dB, so T30 must be withheld while T20 is still reported.
    signal = synthetic_decay(1.0, -40.0, sample_rate_hz, 3.0, seed=len(cases))
    metrics = analyse_channel(signal, sample_rate_hz)["metrics"]
    for key, reported in (("t20_s", True), ("t30_s", False)):
        passed = (metrics[key] is not None) == reported
        failures += 0 if passed else 1
        print(f"T=1.0 s noise=-40 dB {key:7s} expected {'a value' if reported else 'null'} "
              f"measured {metrics[key]} {'ok' if passed else 'FAIL'}")

    print(f"self-test: {failures} failure(s)")
    return 1 if failures else 0


def main(argv=None):
    """Parse arguments, analyse the file, print JSON and return the exit code."""
    parser = argparse.ArgumentParser(
        description="Print ISO 3382-1 parameters (EDT, T20, T30, C50, C80, D50; "
                    "broadband and octave bands) of an impulse response WAV as JSON.")
    parser.add_argument("file", nargs="?", help="impulse response WAV file")
    parser.add_argument("--channel", type=int,
                        help="analyse only this channel, counted from 1 (default: every channel)")
    parser.add_argument("--self-test", action="store_true",
                        help="check the metrics on synthetic decays with known values")
    arguments = parser.parse_args(argv)

    if arguments.self_test:
        return run_self_test()
    if arguments.file is None:
        parser.error("a WAV file is required (or --self-test)")
    if not os.path.isfile(arguments.file):
        parser.error(f"file '{arguments.file}' not found")

    try:
        document = analyse_file(arguments.file, arguments.channel)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    json.dump(document, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())

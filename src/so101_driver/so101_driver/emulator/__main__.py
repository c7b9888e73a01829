"""Run an emulated SO-101 bus by hand: `python -m so101_driver.emulator --link /tmp/so101_follower`.

Then start a driver with `-p port:=/tmp/so101_follower -p calibration_file:=<the same file>`.
"""
import argparse
import os
import signal
import threading

from so101_description.model import JOINT_NAMES
from so101_driver.calibration import load_calibration, save_calibration
from so101_driver.emulator.arm import calibrated_servos, example_calibration
from so101_driver.emulator.pty_bus import EmulatedBus, Faults


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--link', required=True, help='path the driver opens (a symlink)')
    parser.add_argument('--calibration', help='LeRobot calibration JSON to emulate; written '
                                              'with example values if it does not exist')
    parser.add_argument('--drop', type=float, default=0.0, help='probability a reply is lost')
    parser.add_argument('--corrupt', type=float, default=0.0, help='probability of a bad checksum')
    parser.add_argument('--fault', action='append', default=[], metavar='NAME=VALUE',
                        help='any other field of emulator.Faults, e.g. foreign_id=0.02 or '
                             'silences_per_s=0.3 (repeatable)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    try:
        faults = Faults(args.drop, args.corrupt, **dict(_fault(f) for f in args.fault))
    except (TypeError, ValueError) as error:
        parser.error(str(error))
    calibration = example_calibration()
    if args.calibration:
        if os.path.exists(args.calibration):
            calibration = load_calibration(args.calibration, JOINT_NAMES)
        else:
            save_calibration(args.calibration, calibration)
    servos = calibrated_servos(calibration)
    bus = EmulatedBus(args.link, servos.values(), faults, args.seed)
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    with bus:
        print(f'emulated SO-101 bus on {args.link}; Ctrl-C to stop', flush=True)
        try:
            done.wait()
        except KeyboardInterrupt:
            pass
    print(bus.counters)


def _fault(text: str):
    name, sep, value = text.partition('=')
    if not sep:
        raise ValueError(f'--fault {text!r}: expected NAME=VALUE')
    try:
        return name, float(value)
    except ValueError:
        raise ValueError(f'--fault {name}: {value!r} is not a number') from None


if __name__ == '__main__':
    main()

"""The SDK's PortHandler with the three behaviours a 30 Hz control loop needs.

`scservo_sdk` is used unmodified; this subclass only changes how its port waits:
- the reply timeout is configurable (the SDK's fixed ~34 ms is longer than a 30 Hz tick, so one
  lost reply would cost a whole cycle);
- a transaction starts with an empty input buffer (the SDK's clearPort() flushes output only, so
  late or leftover replies from a failed transaction could be read as the next one's answer);
- it waits for bytes with select() instead of spinning on a non-blocking read, which would keep a
  CPU core busy for every millisecond spent waiting on the bus.
"""
import select

from scservo_sdk import PortHandler


class BusPortHandler(PortHandler):
    def __init__(self, port_name: str, packet_timeout_ms: float):
        super().__init__(port_name)
        self.reply_timeout_ms = float(packet_timeout_ms)

    def setPacketTimeout(self, packet_length):  # noqa: N802 (SDK name)
        self.packet_start_time = self.getCurrentTime()
        self.packet_timeout = self.tx_time_per_byte * packet_length + self.reply_timeout_ms

    def clearPort(self):  # noqa: N802 (SDK name)
        self.ser.reset_input_buffer()

    def readPort(self, length):  # noqa: N802 (SDK name)
        if self.ser.in_waiting == 0:
            left_ms = self.packet_timeout - self.getTimeSinceStart()
            if left_ms > 0:
                select.select([self.ser.fileno()], [], [], left_ms / 1000.0)
        return self.ser.read(length)

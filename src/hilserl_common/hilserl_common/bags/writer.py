"""Writing one episode bag: rosbag2 metadata that `ros2 bag info` (Jazzy) accepts and an MCAP
file whose chunks are zstd-compressed, the layout of rosbag2's `zstd_fast` preset (rosbags'
writer compresses at zstd's default level; the preset uses its fastest one). Recorded images
compress several times over, and every rosbag2 and MCAP reader decompresses chunks itself.
"""
from pathlib import Path
from typing import Dict

from rosbags.rosbag2 import CompressionFormat, CompressionMode, StoragePlugin, Writer
from rosbags.rosbag2.errors import WriterError

from hilserl_common.bags.layout import BAG_VERSION, BagError, in_namespace
from hilserl_common.bags.typestore import INTERFACES, typestore


class BagWriter:
    """A bag being written: topics added by key, messages written as CDR bytes (or as
    deserialised messages); `close()` finishes it (metadata.yaml), `discard()` removes it."""

    def __init__(self, path: Path, store=None):
        self.path = Path(path)
        self.store = store or typestore()
        self._connections: Dict[str, object] = {}
        self._types: Dict[str, str] = {}
        self.counts: Dict[str, int] = {}
        try:
            self._writer = Writer(self.path, version=BAG_VERSION,
                                  storage_plugin=StoragePlugin.MCAP)
            # MCAP chunk compression: metadata.yaml says no rosbag2 compression, as for bags
            # recorded with `--storage-preset-profile zstd_fast`.
            self._writer.set_compression(CompressionMode.STORAGE, CompressionFormat.ZSTD)
            self._writer.open()
        except WriterError as error:
            raise BagError(f'cannot write the bag {self.path}: {error}') from None

    def add(self, key: str, topic: str, msgtype: str, namespace: str = '') -> None:
        """A topic written as `key`: `topic` in `namespace` (absolute names stay as they are)."""
        if msgtype not in self.store.types:
            raise BagError(f'{self.path}: unknown message type {msgtype} for {topic} (is '
                           f'{INTERFACES} built and its install sourced?)')
        self._connections[key] = self._writer.add_connection(
            in_namespace(topic, namespace), msgtype, typestore=self.store)
        self._types[key] = msgtype
        self.counts[key] = 0

    def write(self, key: str, time_ns: int, serialized: bytes) -> None:
        self._writer.write(self._connections[key], int(time_ns), serialized)
        self.counts[key] += 1

    def write_message(self, key: str, time_ns: int, msg) -> None:
        self.write(key, time_ns, self.store.serialize_cdr(msg, self._types[key]))

    def close(self) -> Path:
        self._writer.close()
        return self.path

    def discard(self) -> None:
        self._writer.close()
        for file in self.path.iterdir():
            file.unlink()
        self.path.rmdir()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def header(store, stamp_ns: int, frame_id: str = ''):
    """A std_msgs/Header of the typestore's classes."""
    types = store.types
    time = types['builtin_interfaces/msg/Time'](sec=int(stamp_ns // 1_000_000_000),
                                                nanosec=int(stamp_ns % 1_000_000_000))
    return types['std_msgs/msg/Header'](stamp=time, frame_id=frame_id)


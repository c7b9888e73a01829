"""Reading a bag: rosbag2 directories or files, MCAP (compressed chunks or not) or sqlite3, written
here or by `ros2 bag record`, through rosbags with the workspace's typestore."""
import contextlib
from pathlib import Path
from typing import Iterator, Optional, Sequence, Tuple

from rosbags.highlevel import AnyReader

from hilserl_common.bags.layout import BagError, find_topic
from hilserl_common.bags.typestore import typestore
from hilserl_common.stamps import NS_PER_S


@contextlib.contextmanager
def open_bag(bag: Path) -> Iterator[AnyReader]:
    """An open AnyReader of one bag, or a BagError naming the bag and why it cannot be read."""
    bag = Path(bag)
    if not bag.exists():
        raise BagError(f'episode bag {bag} does not exist')
    try:
        reader = AnyReader([bag], default_typestore=typestore())
        reader.open()
    except Exception as error:  # rosbags raises several types for unreadable bags
        raise BagError(f'{bag}: not a readable rosbag2 recording ({error})') from None
    try:
        yield reader
    finally:
        reader.close()


def connection_of(reader: AnyReader, suffix: str, bag: Path, types: Sequence[str] = (),
                  hint: str = 'name one of them'):
    """The connection of the topic named `suffix` (in any namespace, of one of `types` if given);
    None if the bag has none."""
    candidates = [c for c in reader.connections if not types or c.msgtype in types]
    topic = find_topic([c.topic for c in candidates], suffix, bag, hint)
    return next((c for c in candidates if c.topic == topic), None)


def messages(reader: AnyReader, connections) -> Iterator[Tuple[object, int, object]]:
    """(connection, recording time in ns, deserialised message) in recording order."""
    for connection, time_ns, raw in reader.messages(connections=list(connections)):
        yield connection, time_ns, reader.deserialize(raw, connection.msgtype)


def stamp_ns(msg) -> Optional[int]:
    """A message's header stamp in ns; None without a header or with a zero stamp."""
    header = getattr(msg, 'header', None)
    if header is None or (header.stamp.sec == 0 and header.stamp.nanosec == 0):
        return None
    return header.stamp.sec * NS_PER_S + header.stamp.nanosec

"""One camera's frames of one episode bag for the classifier's datasets, read through the
workspace's bag module (hilserl_common.bags): recordings of the actor (each camera's processed
image, and on the real arm its full frame as JPEG), bags written by `ros2 bag record` (MCAP or
sqlite3, raw or compressed camera topics), compressed chunks or not.
"""
import dataclasses
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np

from hilserl_common.bags import (
    BagError,
    find_topic,
    image_topics,
    layout,
    messages,
    open_bag,
    processed_image,
)
from hilserl_common.stamps import nanoseconds
from so101_description.cameras import WRIST_CAMERA

PROCESSED_TOPIC = layout.image_proc()
LABEL_FILE_HINT = 'set image_topic in the label file to one of them'


class MissingImageTopic(BagError):
    """A bag without the image topic asked for; the message names the bag, the topics it was
    looked for under and those it has."""


@dataclasses.dataclass
class EpisodeFrames:
    """The preprocessed frames of one camera of one episode, in time order."""
    images: np.ndarray        # N x 128 x 128 x 3 uint8 RGB
    stamps_ns: np.ndarray     # N int64, header stamps
    topic: str


def choose_image_topic(topics: Sequence[str], wanted: Optional[str], bag: Path,
                       camera: str = WRIST_CAMERA) -> str:
    """The image topic of a camera in a bag: `wanted` (with or without a namespace), else the
    camera's processed topic, else its full frame (raw, then JPEG). Several robots' topics in
    one bag need `wanted` to pick one."""
    candidates = [wanted] if wanted else image_topics(camera)
    for candidate in candidates:
        topic = find_topic(topics, candidate, bag, LABEL_FILE_HINT)
        if topic is not None:
            return topic
    raise MissingImageTopic(f'{bag}: no image topic {" or ".join(candidates)}; the bag has '
                   f'{", ".join(sorted(topics)) or "no topics"}')


def read_episode_frames(bag: Path, image_topic: Optional[str] = None,
                        camera: str = WRIST_CAMERA) -> EpisodeFrames:
    """Every frame of a camera's image topic in one bag (`image_topic`, else the camera's
    topics in the order of choose_image_topic), through the shared preprocessing."""
    bag = Path(bag)
    images: List[np.ndarray] = []
    stamps: List[int] = []
    with open_bag(bag) as reader:
        image_connections = [c for c in reader.connections if c.msgtype in layout.IMAGE_TYPES]
        topic = choose_image_topic([c.topic for c in image_connections], image_topic, bag,
                                   camera)
        for _, _, msg in messages(reader, [c for c in image_connections if c.topic == topic]):
            try:
                images.append(processed_image(msg))
            except ValueError as error:
                raise BagError(f'{bag}: frame {len(images)} of {topic}: {error}') from None
            stamps.append(nanoseconds(msg.header.stamp))
    if not images:
        raise BagError(f'{bag}: topic {topic} has no frames')
    return EpisodeFrames(images=np.stack(images), stamps_ns=np.asarray(stamps, np.int64),
                         topic=topic)

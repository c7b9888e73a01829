"""Episode bags, written and read with `rosbags` only (no rclpy, no generated message classes):
one rosbag2 directory per episode, MCAP with zstd-compressed chunks; this workspace's topics
(`layout`), its message types (`typestore`), the writers (`writer`, `episode_writer`), the reader
(`reader`) and the one image decoder (`images`)."""
from hilserl_common.bags.episode_writer import EpisodeBagWriter
from hilserl_common.bags.images import decode_image, pixels, processed_image
from hilserl_common.bags.layout import BAG_VERSION, BagError, find_topic, image_topics
from hilserl_common.bags.reader import connection_of, messages, open_bag, stamp_ns
from hilserl_common.bags.typestore import typestore
from hilserl_common.bags.writer import BagWriter, header

__all__ = ['BAG_VERSION', 'BagError', 'BagWriter', 'EpisodeBagWriter', 'connection_of',
           'decode_image', 'find_topic', 'header', 'image_topics', 'messages', 'open_bag',
           'pixels', 'processed_image', 'stamp_ns', 'typestore']

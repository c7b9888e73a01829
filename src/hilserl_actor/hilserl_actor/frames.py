"""The frozen image backbone's features of the camera frames a control step uses, each frame
through the backbone once: the policy acts on the wrist view's, the step's transition carries
them to the learner, and the reward classifier scores every view's (the actor publishes them on
image_features). The backbone was the costliest part of a step, run up to three times per wrist
frame before (policy, classifier, learner).

Plain Python and PyTorch (no ROS)."""
from typing import Dict, Tuple

import numpy as np
import torch

from hilserl_learner.networks.encoder import Backbone, stored_bits

Frames = Dict[str, Tuple[float, np.ndarray]]  # view -> (stamp s, 128 x 128 x 3 uint8 frame)


class FrameEncoder:
    def __init__(self, backbone: Backbone):
        self.backbone = backbone
        self.identity = backbone.identity
        self.feature_shape = tuple(backbone.feature_shape)
        self._newest: Dict[str, Tuple[float, np.ndarray]] = {}  # view -> (stamp, features)

    def encode(self, frames: Frames) -> Dict[str, np.ndarray]:
        """Each view's feature map (encoder.stored_bits: bfloat16 bits, C x H x W). A frame
        the previous call encoded (same view, same stamp: a camera slower than the loop) is not
        encoded again; the others go through the backbone in one batch."""
        fresh = [view for view, (stamp, _) in frames.items()
                 if view not in self._newest or self._newest[view][0] != stamp]
        if fresh:
            images = torch.from_numpy(np.stack([frames[view][1] for view in fresh]))
            for view, features in zip(fresh, stored_bits(self.backbone(images))):
                self._newest[view] = (frames[view][0], features)
        return {view: self._newest[view][1] for view in frames}

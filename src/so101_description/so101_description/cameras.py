"""The cameras of the cell, by the names their nodes and topics carry (`<camera>/image_proc`):
the wrist camera, which the policy looks through, and a fixed front camera that sees how high
the cube is (the reward classifier's second view)."""
WRIST_CAMERA = 'wrist_camera'
FRONT_CAMERA = 'front_camera'
CAMERAS = (WRIST_CAMERA, FRONT_CAMERA)


def camera_views(value):
    """A config check: a non-empty list of distinct camera names out of CAMERAS."""
    if value and all(v in CAMERAS for v in value) and len(set(value)) == len(value):
        return None
    return f'a list of distinct camera views out of {", ".join(CAMERAS)}'

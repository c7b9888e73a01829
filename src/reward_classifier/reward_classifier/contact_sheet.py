"""Contact sheets: a grid of frames with captions and a coloured border per frame, written as a
PNG so a person can set or check labels (frames around a cutoff) or look at the classifier's
worst mistakes."""
from pathlib import Path
from typing import Optional, Sequence

import cv2
import numpy as np

SUCCESS_COLOUR = (40, 180, 60)    # RGB green: labelled success
FAILURE_COLOUR = (200, 40, 40)    # RGB red: labelled failure
_BORDER_PX = 3
_CAPTION_PX = 18
_TITLE_PX = 26


def contact_sheet(images: Sequence[np.ndarray], captions: Sequence[str],
                  colours: Sequence[tuple], columns: int = 8,
                  title: Optional[str] = None) -> np.ndarray:
    """An RGB image: the frames in rows of `columns`, each framed in its colour with its caption
    underneath, and an optional title on top."""
    if not len(images):
        raise ValueError('a contact sheet needs at least one frame')
    height, width = images[0].shape[:2]
    tile_h = height + 2 * _BORDER_PX + _CAPTION_PX
    tile_w = width + 2 * _BORDER_PX
    columns = max(1, min(columns, len(images)))
    rows = (len(images) + columns - 1) // columns
    top = _TITLE_PX if title else 0
    sheet = np.full((top + rows * tile_h, columns * tile_w, 3), 255, np.uint8)
    if title:
        _text(sheet, title, (4, _TITLE_PX - 8), 0.5)
    for i, (image, caption, colour) in enumerate(zip(images, captions, colours)):
        y = top + (i // columns) * tile_h
        x = (i % columns) * tile_w
        sheet[y:y + height + 2 * _BORDER_PX, x:x + tile_w] = colour
        sheet[y + _BORDER_PX:y + _BORDER_PX + height, x + _BORDER_PX:x + _BORDER_PX + width] = \
            image
        _text(sheet, caption, (x + 2, y + tile_h - 5), 0.38)
    return sheet


def _text(sheet: np.ndarray, text: str, origin, scale: float):
    cv2.putText(sheet, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1,
                cv2.LINE_AA)


def label_colour(label: int) -> tuple:
    return SUCCESS_COLOUR if label else FAILURE_COLOUR


def frames_around(num_frames: int, centre: int, radius: int) -> np.ndarray:
    """Frame numbers centre - radius .. centre + radius, clipped to the episode."""
    first = max(0, centre - radius)
    last = min(num_frames - 1, centre + radius)
    return np.arange(first, last + 1)


def save_png(path, sheet: np.ndarray) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR)):
        raise OSError(f'could not write {path}')
    return path

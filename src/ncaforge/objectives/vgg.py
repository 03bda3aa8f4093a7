"""An optional texture loss on VGG16 features, from weights the user supplies (never downloaded).

The layer list of torchvision's ``vgg16().features`` is written here; ``--vgg PATH`` names a
safetensors file holding its tensors under torchvision's names (``features.0.weight``, ...; a file
saved from ``torchvision.models.vgg16(weights=...).state_dict()`` has them). The loss compares Gram
matrices of the activations after the first ReLU of each of the five blocks (as the texture NCA
article), on inputs normalised as ImageNet's.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ncaforge.core.errors import NcaError

# torchvision's configuration "D": convolution widths, "M" a 2x2 max-pool
VGG16 = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")
STYLE_LAYERS = (1, 6, 11, 18, 25)  # indices in ``features`` of relu1_1, relu2_1, relu3_1, relu4_1, relu5_1
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class VGGError(NcaError, ValueError):
    """A VGG16 weights file that is missing or does not fit the layer list."""


def vgg16_features() -> nn.Sequential:
    """torchvision's ``vgg16().features`` layer by layer (untrained)."""
    layers: list[nn.Module] = []
    width = 3
    for v in VGG16:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(width, int(v), 3, padding=1), nn.ReLU()]
            width = int(v)
    return nn.Sequential(*layers)


def load_vgg16(path: str | Path) -> nn.Sequential:
    """The VGG16 feature layers with the weights of ``path`` (safetensors), frozen, up to relu5_1."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = Path(path)
    if not path.is_file():
        raise VGGError(f"--vgg {path}: no such file (a safetensors file of torchvision's VGG16 weights; "
                       "ncaforge never downloads them)")
    try:
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as e:
        raise VGGError(f"--vgg {path}: not a readable safetensors file: {e}") from e
    net = vgg16_features()[: STYLE_LAYERS[-1] + 1]
    wanted = {f"features.{k}": v for k, v in net.state_dict().items()}
    missing = sorted(k for k in wanted if k not in tensors)
    if missing:
        raise VGGError(f"--vgg {path}: lacks {', '.join(missing[:3])}{', ...' if len(missing) > 3 else ''} "
                       "(expected torchvision's vgg16 names, features.0.weight ...)")
    bad = [k for k, v in wanted.items() if tuple(tensors[k].shape) != tuple(v.shape)]
    if bad:
        raise VGGError(f"--vgg {path}: {bad[0]} is {tuple(tensors[bad[0]].shape)}, VGG16's is "
                       f"{tuple(wanted[bad[0]].shape)}")
    net.load_state_dict({k[len("features."):]: tensors[k].float() for k in wanted})
    return net.requires_grad_(False).eval()


def gram_matrices(net: nn.Sequential, images: torch.Tensor) -> list[torch.Tensor]:
    """The (B, F, F) Gram matrices of the style layers' activations of RGB ``images`` in [0, 1]."""
    mean = torch.tensor(MEAN, device=images.device).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=images.device).view(1, 3, 1, 1)
    x, out = (images - mean) / std, []
    for i, layer in enumerate(net):
        x = layer(x)
        if i in STYLE_LAYERS:
            f = x.flatten(2)
            out.append(f @ f.transpose(1, 2) / f.shape[2])
    return out


def gram_loss(net: nn.Sequential, images: torch.Tensor, exemplar_grams: list[torch.Tensor]) -> torch.Tensor:
    """Per sample, the summed mean squared difference of Gram matrices to the exemplar's."""
    return sum(((g - e).pow(2).mean(dim=(1, 2))) for g, e in zip(gram_matrices(net, images), exemplar_grams,
                                                                  strict=True))

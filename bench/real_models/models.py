"""The real models of the suite, built with random weights (nothing is
downloaded: pretrained=False / pretrained=None, no checkpoint, no tokenizer)
and the wrappers TorchScript needs.

Each builder returns (module in eval mode, example args tuple, notes). The
packages (timm, open_clip, torchaudio) are imported inside the builders, so
the torch.nn models (and the tiny one the tests use) need none of them.
"""
from typing import Callable, Dict, List, NamedTuple, Optional, Tuple

import torch
from torch import Tensor, nn

# ------------------------------------------------------------------ wrappers --


class ClipText(nn.Module):
    """open_clip's text tower: CLIP.encode_text as a forward() (TorchScript
    compiles forward and what it calls; encode_text is not a forward)."""

    def __init__(self, clip: nn.Module):
        super().__init__()
        self.clip = clip

    def forward(self, text: Tensor) -> Tensor:
        return self.clip.encode_text(text)


class ClipImageText(nn.Module):
    """Both towers through CLIP.forward(image, text) (its arguments are
    Optional[Tensor]: the checks the pass folds), returning the normalized
    image and text features and the image-to-text logits."""

    def __init__(self, clip: nn.Module):
        super().__init__()
        self.clip = clip

    def forward(self, image: Tensor, text: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        out = self.clip(image, text)
        image_features, text_features, scale = out[0], out[1], out[2]
        assert image_features is not None and text_features is not None
        logits = scale * image_features @ text_features.t()
        return image_features, text_features, logits


# ------------------------------------------------------------------- inputs ---


def clip_tokens(batch: int, context_length: int, vocab_size: int, seed: int = 0) -> Tensor:
    """Token ids shaped like open_clip's tokenizer output, without the
    tokenizer (its vocabulary would be a download): start-of-text id, random
    ids, the end-of-text id (the largest, which the pooling finds by argmax),
    zeros after it."""
    g = torch.Generator().manual_seed(seed)
    sot, eot = vocab_size - 2, vocab_size - 1
    ids = torch.zeros(batch, context_length, dtype=torch.long)
    for i in range(batch):
        n = int(torch.randint(4, context_length // 3, (1,), generator=g))
        ids[i, 0] = sot
        ids[i, 1:n] = torch.randint(1, sot, (n - 1,), generator=g)
        ids[i, n] = eot
    return ids


def padding_mask(batch: int, seq: int, step: int) -> Tensor:
    """A bool key padding mask (True: padding): sample i has seq - i*step
    tokens."""
    lengths = torch.tensor([max(1, seq - i * step) for i in range(batch)])
    return torch.arange(seq)[None, :] >= lengths[:, None]


# ----------------------------------------------------------------- builders ---


class Built(NamedTuple):
    module: nn.Module
    args: tuple
    inputs: str      # the shapes, in words
    scripting: str   # what TorchScript needed


def build_vit() -> Built:
    import timm
    model = timm.create_model("vit_base_patch16_224", pretrained=False)
    return Built(model.eval(), (torch.randn(1, 3, 224, 224),), "image 1x3x224x224",
                 "scripts directly")


def _clip():
    import open_clip
    clip = open_clip.create_model("ViT-B-32", pretrained=None)
    return clip.eval()


CLIP_TEXT_BATCH = 4


def build_clip_image() -> Built:
    clip = _clip()
    return Built(clip.visual, (torch.randn(1, 3, 224, 224),), "image 1x3x224x224",
                 "model.visual scripts directly")


def build_clip_text() -> Built:
    clip = _clip()
    ids = clip_tokens(CLIP_TEXT_BATCH, clip.context_length, clip.vocab_size)
    return Built(ClipText(clip).eval(), (ids,),
                 f"token ids {CLIP_TEXT_BATCH}x{clip.context_length} (random, no tokenizer)",
                 "wrapper: forward() calls encode_text")


def build_clip_image_text() -> Built:
    clip = _clip()
    ids = clip_tokens(CLIP_TEXT_BATCH, clip.context_length, clip.vocab_size)
    return Built(ClipImageText(clip).eval(), (torch.randn(1, 3, 224, 224), ids),
                 f"image 1x3x224x224 + token ids {CLIP_TEXT_BATCH}x{clip.context_length}",
                 "wrapper: forward() calls CLIP.forward(image, text), adds the logits")


WAV_BATCH, WAV_SAMPLES = 2, 16000


def build_wav2vec2(with_lengths: bool) -> Callable[[], Built]:
    def build() -> Built:
        import torchaudio
        model = torchaudio.models.wav2vec2_base().eval()
        wave = torch.randn(WAV_BATCH, WAV_SAMPLES)
        if with_lengths:
            lengths = torch.tensor([WAV_SAMPLES, WAV_SAMPLES * 4 // 5])
            return Built(model, (wave, lengths),
                         f"audio {WAV_BATCH}x{WAV_SAMPLES} (1 s at 16 kHz), lengths {lengths.tolist()}",
                         "scripts directly")
        return Built(model, (wave,), f"audio {WAV_BATCH}x{WAV_SAMPLES} (1 s at 16 kHz), lengths=None",
                     "scripts directly")
    return build


def build_encoder(masked: bool, layers=6, d_model=512, heads=8, batch=8, seq=128,
                  step=8) -> Callable[[], Built]:
    def build() -> Built:
        layer = nn.TransformerEncoderLayer(d_model, heads, 4 * d_model, batch_first=True)
        # enable_nested_tensor=False: with it, eager returns padded positions
        # as zeros (nested tensors), which scripted code does not
        model = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False).eval()
        x = torch.randn(batch, seq, d_model)
        shape = f"x {batch}x{seq}x{d_model}"
        if masked:
            kpm = padding_mask(batch, seq, step)
            return Built(model, (x, None, kpm), shape + f", bool src_key_padding_mask {batch}x{seq}",
                         "scripts directly (called as model(x, None, mask))")
        return Built(model, (x,), shape + ", no mask", "scripts directly")
    return build


class ModelSpec(NamedTuple):
    name: str
    title: str
    build: Callable[[], Built]
    packages: Tuple[str, ...] = ()


MODELS: List[ModelSpec] = [
    ModelSpec("vit_b16", "timm vit_base_patch16_224", build_vit, ("timm",)),
    ModelSpec("clip_image", "open_clip ViT-B-32 image tower", build_clip_image, ("open_clip",)),
    ModelSpec("clip_text", "open_clip ViT-B-32 text tower", build_clip_text, ("open_clip",)),
    ModelSpec("clip_image_text", "open_clip ViT-B-32 image + text", build_clip_image_text,
              ("open_clip",)),
    ModelSpec("wav2vec2", "torchaudio wav2vec2_base, lengths=None", build_wav2vec2(False),
              ("torchaudio",)),
    ModelSpec("wav2vec2_lengths", "torchaudio wav2vec2_base, with lengths", build_wav2vec2(True),
              ("torchaudio",)),
    ModelSpec("encoder", "nn.TransformerEncoder L6 d512 h8, no mask", build_encoder(False)),
    ModelSpec("encoder_mask", "nn.TransformerEncoder L6 d512 h8, src_key_padding_mask",
              build_encoder(True)),
]

# Not in the default run: a tiny encoder for the tests and smoke checks.
EXTRA: List[ModelSpec] = [
    ModelSpec("tiny_encoder_mask", "nn.TransformerEncoder L1 d32 h4 (test size), src_key_padding_mask",
              build_encoder(True, layers=1, d_model=32, heads=4, batch=2, seq=8, step=2)),
]

# --quick: one torch.nn model and one that needs the extra packages; between
# them a failure row of each kind stock oneDNN Graph shows, and oneDNN groups
QUICK = ["encoder_mask", "wav2vec2_lengths"]


def by_name() -> Dict[str, ModelSpec]:
    return {m.name: m for m in MODELS + EXTRA}


def find(name: str) -> Optional[ModelSpec]:
    return by_name().get(name)

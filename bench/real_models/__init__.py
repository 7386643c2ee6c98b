"""The real-model benchmark (`make bench-real`, `python -m bench.real_models`):
timm ViT-B/16, open_clip ViT-B-32 (image, text, both), torchaudio
wav2vec2_base (with and without lengths) and nn.TransformerEncoder (with and
without a key padding mask), random weights, each as eager, stock
TorchScript (frozen; no fuser and oneDNN Graph), TorchScript with
torch_optspec (same two) and torch.compile. Not part of `make test`; its
extra packages are in requirements-real.txt. docs/benchmark.md describes it.
"""

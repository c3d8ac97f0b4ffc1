"""``task=charlm``: next-character prediction with a small GPT; no download.

Corpus. By default the English text of Python's documentation topics (``pydoc_data.topics``,
shipped with every CPython; the topics joined in name order). ``task.corpus_path`` takes a UTF-8
text file instead. The record's ``info`` gives the corpus's sha256 (of the file's bytes, or of
the built-in text encoded as UTF-8) and its size, so a reader can tell whether two runs saw the
same text (the built-in text changes between Python versions; the config key knows only the path).

Split. The last ``val_fraction`` of the text is the validation split (at most ``max_val_blocks``
blocks of it, from its start), the rest is the training text: one contiguous cut, so no training
block overlaps validation text. The vocabulary is the set of characters of the training text; id 0
is the unknown character, which validation (or generated) text may contain.

Examples. A split of n characters becomes (n - 1) // T blocks of T + 1 characters (T =
``task.context``) that overlap by one character: x = block[:-1], y = block[1:], so every
character but the first is a prediction target exactly once. The trainer slices whole blocks
(``x[idx]``); an epoch is one pass over the training text.

Subsets (``data_subset``). A fraction f of the N training blocks is a contiguous run of
ceil(f x N) blocks from a start block drawn from ``subset_seed``, wrapping around at the end of the
text: contiguous text (one seam at most), and nested for one seed (a larger fraction extends the
same run), so the 5% subset lies inside the 10% one.

Metrics: ``loss`` (cross-entropy, nats per character), ``bpc`` (bits per character, loss / ln 2)
and ``accuracy`` (next-character accuracy); the trainer reports them as ``val_loss``, ``val_bpc``,
``val_accuracy``. The objective is ``val_loss`` by default.
"""
from __future__ import annotations

import hashlib
import math
import platform
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from hydra.utils import get_class, instantiate

from budgetsweep.tasks.base import TaskData, check_metric
from budgetsweep.tasks.cache import DATASETS, content_key
from budgetsweep.tasks.subset import subset_size

METRICS = ("val_loss", "val_accuracy")
UNKNOWN_ID = 0
BUILTIN_CORPUS = "pydoc_data.topics"


# -- corpus ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Corpus:
    text: str
    name: str
    path: str | None
    sha256: str
    n_bytes: int


def builtin_text() -> str:
    from pydoc_data.topics import topics

    return "".join(topics[name] for name in sorted(topics))


def load_corpus(corpus_path: str | None) -> Corpus:
    """The built-in corpus (``corpus_path`` None) or a user's UTF-8 file; clear errors otherwise."""
    if corpus_path is None:
        text = builtin_text()
        data = text.encode("utf-8")
        return Corpus(text, f"{BUILTIN_CORPUS} (Python {platform.python_version()})", None,
                      hashlib.sha256(data).hexdigest(), len(data))
    expected = "it must be the path of a non-empty UTF-8 text file (or null for the built-in corpus)"
    if not isinstance(corpus_path, (str, Path)) or not str(corpus_path).strip():
        raise ValueError(f"task.corpus_path={corpus_path!r} is not a path; {expected}")
    path = Path(corpus_path).expanduser()
    if not path.exists():
        raise ValueError(f"task.corpus_path={str(corpus_path)!r} does not exist (resolved to {path.resolve()}); "
                         f"{expected}")
    if not path.is_file():
        raise ValueError(f"task.corpus_path={str(corpus_path)!r} is not a file; {expected}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"task.corpus_path={str(corpus_path)!r} cannot be read ({exc.strerror}); {expected}") from None
    if not data:
        raise ValueError(f"task.corpus_path={str(corpus_path)!r} is empty (0 bytes); {expected}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"task.corpus_path={str(corpus_path)!r} is not UTF-8 text (invalid byte at offset "
                         f"{exc.start}); {expected}") from None
    if not text:
        raise ValueError(f"task.corpus_path={str(corpus_path)!r} holds no characters; {expected}")
    return Corpus(text, path.name, str(path.resolve()), hashlib.sha256(data).hexdigest(), len(data))


@dataclass(frozen=True)
class Vocabulary:
    """Characters <-> ids. Id 0 is the unknown character; the others are the sorted characters."""

    chars: str

    @classmethod
    def from_text(cls, text: str) -> "Vocabulary":
        return cls("".join(sorted(set(text))))

    def __len__(self) -> int:
        return len(self.chars) + 1

    def encode(self, text: str) -> np.ndarray:
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        known = np.frombuffer(self.chars.encode("utf-32-le"), dtype=np.uint32)  # sorted: chars are sorted
        pos = np.searchsorted(known, codes)
        found = (pos < len(known)) & (known[np.minimum(pos, len(known) - 1)] == codes)
        return np.where(found, pos + 1, UNKNOWN_ID).astype(np.int64)

    def decode(self, ids) -> str:
        table = ["\ufffd", *self.chars]
        return "".join(table[int(i)] for i in ids)


def blocks(ids: np.ndarray, context: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(x, y) of shape (N, context), N = (len(ids) - 1) // context: blocks overlapping by one id."""
    n = (len(ids) - 1) // context
    view = torch.as_tensor(ids[:n * context + 1]).unfold(0, context + 1, context)
    return view[:, :-1].contiguous(), view[:, 1:].contiguous()


def contiguous_subset(n: int, fraction: float, seed: int) -> np.ndarray:
    """``subset_size(n, fraction)`` consecutive indices from a seeded start, wrapping around: nested per seed."""
    keep = subset_size(n, fraction)
    if keep == n:
        return np.arange(n)
    start = int(np.random.default_rng(seed).integers(n))
    return (start + np.arange(keep)) % n


def unigram_entropy(ids: np.ndarray) -> float:
    """Entropy (nats per character) of the character frequencies of ``ids``."""
    counts = np.bincount(ids)
    p = counts[counts > 0] / len(ids)
    return float(-(p * np.log(p)).sum())


# -- task -----------------------------------------------------------------------------------
class CharLM:
    name = "charlm"

    def __init__(self, corpus_path: str | None = None, context: int = 128, val_fraction: float = 0.1,
                 max_val_blocks: int | None = 256, objective: str = "val_loss") -> None:
        check_metric(self.name, objective, METRICS)
        if isinstance(context, bool) or not isinstance(context, int) or context < 1:
            raise ValueError(f"task.context={context!r} is not allowed; task.context must be an integer >= 1")
        if not (isinstance(val_fraction, (int, float)) and 0 < val_fraction < 0.5):
            raise ValueError(f"task.val_fraction={val_fraction!r} is out of range; it must be in (0, 0.5)")
        if max_val_blocks is not None and (isinstance(max_val_blocks, bool) or not isinstance(max_val_blocks, int)
                                           or max_val_blocks < 1):
            raise ValueError(f"task.max_val_blocks={max_val_blocks!r} is not allowed; it must be an integer >= 1 "
                             "or null (no cap)")
        self.objective = objective
        self.context, self.val_fraction, self.max_val_blocks = context, val_fraction, max_val_blocks
        # loaded now, so a bad corpus is a configuration error before any compute; read for every job,
        # so the cache below misses when the file's content changed
        self.corpus = load_corpus(corpus_path)
        key = content_key(type(self).__qualname__, self.corpus.sha256, self.corpus.name, self.corpus.path, context,
                          val_fraction, max_val_blocks)
        self._key = key
        built = DATASETS.get(key, lambda: self._prepare(corpus_path))
        self.vocab, self.train_x, self.train_y, self.val_x, self.val_y, self.stats = built

    def cache_key(self) -> str:
        """The corpus's sha256 and every split setting (budgetsweep.tasks.cache)."""
        return self._key

    def _prepare(self, corpus_path):
        context, val_fraction, max_val_blocks = self.context, self.val_fraction, self.max_val_blocks
        text = self.corpus.text
        cut = round(len(text) * (1 - val_fraction))
        vocab = Vocabulary.from_text(text[:cut])
        train_ids, val_ids = vocab.encode(text[:cut]), vocab.encode(text[cut:])
        if len(train_ids) < 2 * context + 1 or len(val_ids) < context + 1:
            need = max(math.ceil((context + 1) / val_fraction), math.ceil((2 * context + 1) / (1 - val_fraction))) + 1
            where = "the built-in corpus" if corpus_path is None else f"task.corpus_path={str(corpus_path)!r}"
            raise ValueError(
                f"{where} holds {len(text)} characters, too few for task.context={context} with "
                f"task.val_fraction={val_fraction}: a corpus needs at least {need} characters here (two training "
                "blocks and one validation block); use a longer file or a smaller task.context")
        train_x, train_y = blocks(train_ids, context)
        val_x, val_y = blocks(val_ids, context)
        val_x, val_y = val_x[:max_val_blocks], val_y[:max_val_blocks]
        entropy = unigram_entropy(train_ids)
        stats = {
            "corpus": self.corpus.name,
            "corpus_path": self.corpus.path,
            "corpus_sha256": self.corpus.sha256,
            "corpus_chars": len(text),
            "corpus_bytes": self.corpus.n_bytes,
            "train_chars": len(train_ids),
            "val_chars": len(val_ids),
            "val_chars_used": int(val_y.numel()),
            "val_unknown_chars": int((val_ids == UNKNOWN_ID).sum()),
            "vocab_size": len(vocab),
            "unknown_id": UNKNOWN_ID,
            "unigram_entropy_nats": entropy,
            "unigram_entropy_bits": entropy / math.log(2),
            "tokens_per_example": context,
        }
        return vocab, train_x, train_y, val_x, val_y, stats

    def n_train(self) -> int:
        return len(self.train_x)

    def trivial_baseline(self) -> dict:
        """The ``learned`` verdict's baseline: the training text's unigram entropy (nats per character; a
        model that ignores context cannot beat it), and the accuracy of always predicting the most frequent
        training character on the validation characters used."""
        train_ids = self.train_y.flatten()
        top = int(torch.bincount(train_ids).argmax())
        return {"val_loss": self.stats["unigram_entropy_nats"],
                "val_accuracy": float((self.val_y == top).float().mean()),
                "source": "unigram entropy of the training text (nats/char)"}

    def eval_sizes(self) -> tuple[int, int]:
        """(validation blocks, test blocks): no test split."""
        return len(self.val_x), 0

    def build_data(self, recipe) -> TaskData:
        n = len(self.train_x)
        idx = torch.as_tensor(contiguous_subset(n, recipe.data.fraction, recipe.data.subset_seed))
        info = {**self.stats, "n_train": len(idx), "n_train_full": n, "n_val": len(self.val_x),
                "subset_first_block": int(idx[0]), **self._model_cost(recipe)}
        # indexing copies, and validation is cloned: the cached tensors are shared by the process's jobs
        return TaskData(train_x=self.train_x[idx], train_y=self.train_y[idx], val_x=self.val_x.clone(),
                        val_y=self.val_y.clone(),
                        n_train_full=n, info=info)

    def build_model(self, recipe) -> torch.nn.Module:
        try:
            return instantiate(recipe.model, vocab_size=len(self.vocab), context=self.context)
        except Exception as exc:
            root = exc
            while root.__cause__ is not None:
                root = root.__cause__
            if isinstance(root, TypeError) and ("vocab_size" in str(root) or "context" in str(root)):
                raise ValueError(
                    f"model._target_={recipe.model.get('_target_')!r} does not take vocab_size and context; "
                    "task=charlm needs a sequence model, e.g. model=gpt") from None
            raise

    def _model_cost(self, recipe) -> dict:
        """The model's analytic size and FLOPs, when its class offers ``analytic_cost`` (the GPT does)."""
        config = {k: v for k, v in recipe.model.items() if not k.startswith("_")}
        try:
            cost = get_class(recipe.model["_target_"]).analytic_cost(
                vocab_size=len(self.vocab), context=self.context, **config)
        except Exception:  # no formula, or a bad model config (reported when the model is built)
            return {}
        return dict(cost)

    def flops_per_example(self, recipe) -> float | None:
        """Analytic training FLOPs of one block (flops_per_token x context); None for a model without a formula."""
        per_token = self._model_cost(recipe).get("flops_per_token")
        return None if per_token is None else per_token * self.context

    def progressive_view(self, x: torch.Tensor, y: torch.Tensor, scale: float) -> tuple[torch.Tensor, torch.Tensor]:
        """A cheaper view of a batch at input scale ``scale`` in (0, 1]: the first round(scale x T) positions."""
        if not 0 < scale <= 1:
            raise ValueError(f"scale={scale!r} is out of range; it must be in (0, 1]")
        t = max(1, round(scale * x.shape[1]))
        return x[:, :t], y[:, :t]

    def loss(self, output, target):
        return torch.nn.functional.cross_entropy(output.flatten(0, 1).float(), target.flatten())

    def metrics(self, output, target):
        loss = float(torch.nn.functional.cross_entropy(output.flatten(0, 1).float(), target.flatten()))
        acc = float((output.argmax(dim=-1) == target).float().mean())
        return {"loss": loss, "bpc": loss / math.log(2), "accuracy": acc}

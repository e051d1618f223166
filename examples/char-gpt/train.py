"""char-gpt training script: the EDITABLE file.

A small character-level GPT trained on Moby Dick for a fixed time budget. Everything here may change: the
hyperparameters below, the model, the optimizer, the loop. What may not change lives in prepare.py (data,
time budget, checkpoint format, evaluation). The run ends by handing the model to prepare.save_checkpoint;
`python prepare.py evaluate` then scores it in a separate process. Printing a metric here does nothing.

The model must map int64 token ids (B, T) to logits (B, T, vocab_size), causally (position t sees tokens
0..t only) and with batch rows independent; the evaluator checks both.
"""
import contextlib
import math

import torch
import torch.nn as nn
import torch.nn.functional as F

import prepare

# ---------------------------------------------------------------------------- hyperparameters
N_LAYER = 2
N_HEAD = 4
N_EMBD = 64
BLOCK_SIZE = 32  # context length in characters
BATCH_SIZE = 32
LEARNING_RATE = 1e-3  # peak learning rate
WEIGHT_DECAY = 0.1  # decoupled weight decay on matrices (adamw, sgd)
DROPOUT = 0.1
WARMUP_STEPS = 20  # linear warm-up, in optimizer steps
LR_SCHEDULE = "constant"  # one of: "constant", "linear", "cosine" (after warm-up, over progress = elapsed / budget)
FINAL_LR_FRAC = 0.1  # learning rate at the end of a "linear" or "cosine" schedule, as a fraction of the peak
OPTIMIZER = "adamw"  # one of: "adamw", "adam", "sgd"
ADAM_BETA2 = 0.999
GRAD_CLIP = 1.0  # max gradient norm; 0 disables clipping
USE_BIAS = True  # biases in linear layers and layer norms
TIE_WEIGHTS = False  # share the token embedding with the output head
INIT_STD = 0.02


# ---------------------------------------------------------------------------- model
class LayerNorm(nn.Module):
    def __init__(self, dim: int, bias: bool):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.bias = nn.Parameter(torch.zeros(dim)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)


class CausalSelfAttention(nn.Module):
    def __init__(self):
        super().__init__()
        assert N_EMBD % N_HEAD == 0, "N_EMBD must be divisible by N_HEAD"
        self.qkv = nn.Linear(N_EMBD, 3 * N_EMBD, bias=USE_BIAS)
        self.proj = nn.Linear(N_EMBD, N_EMBD, bias=USE_BIAS)
        self.dropout = nn.Dropout(DROPOUT)
        self.fused = hasattr(F, "scaled_dot_product_attention")  # torch >= 2.0
        if not self.fused:
            mask = torch.tril(torch.ones(BLOCK_SIZE, BLOCK_SIZE, dtype=torch.bool))
            self.register_buffer("mask", mask.view(1, 1, BLOCK_SIZE, BLOCK_SIZE), persistent=False)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(N_EMBD, dim=2)
        q = q.view(B, T, N_HEAD, -1).transpose(1, 2)
        k = k.view(B, T, N_HEAD, -1).transpose(1, 2)
        v = v.view(B, T, N_HEAD, -1).transpose(1, 2)
        if self.fused:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=DROPOUT if self.training else 0.0, is_causal=True)
        else:
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
            att = att.masked_fill(~self.mask[:, :, :T, :T], float("-inf"))
            att = self.dropout(F.softmax(att, dim=-1))
            y = att @ v
        y = y.transpose(1, 2).contiguous().view(B, T, C)
        return self.dropout(self.proj(y))


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(N_EMBD, 4 * N_EMBD, bias=USE_BIAS)
        self.proj = nn.Linear(4 * N_EMBD, N_EMBD, bias=USE_BIAS)
        self.dropout = nn.Dropout(DROPOUT)

    def forward(self, x):
        return self.dropout(self.proj(F.gelu(self.fc(x))))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.ln1 = LayerNorm(N_EMBD, USE_BIAS)
        self.attn = CausalSelfAttention()
        self.ln2 = LayerNorm(N_EMBD, USE_BIAS)
        self.mlp = MLP()

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    def __init__(self, vocab_size: int):
        super().__init__()
        self.token_embedding = nn.Embedding(vocab_size, N_EMBD)
        self.position_embedding = nn.Embedding(BLOCK_SIZE, N_EMBD)
        self.dropout = nn.Dropout(DROPOUT)
        self.blocks = nn.ModuleList([Block() for _ in range(N_LAYER)])
        self.ln_f = LayerNorm(N_EMBD, USE_BIAS)
        self.head = nn.Linear(N_EMBD, vocab_size, bias=False)
        self.register_buffer("positions", torch.arange(BLOCK_SIZE), persistent=False)
        self.apply(self._init_weights)
        for name, parameter in self.named_parameters():
            if name.endswith("proj.weight"):  # residual projections, scaled as in GPT-2
                nn.init.normal_(parameter, mean=0.0, std=INIT_STD / math.sqrt(2 * N_LAYER))
        if TIE_WEIGHTS:
            self.head.weight = self.token_embedding.weight

    def _init_weights(self, module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=INIT_STD)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, idx):
        T = idx.size(1)
        x = self.token_embedding(idx) + self.position_embedding(self.positions[:T])
        x = self.dropout(x)
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))


# ---------------------------------------------------------------------------- optimizer and schedule
def build_optimizer(model):
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": WEIGHT_DECAY}, {"params": no_decay, "weight_decay": 0.0}]
    if OPTIMIZER == "adamw":
        return torch.optim.AdamW(groups, lr=LEARNING_RATE, betas=(0.9, ADAM_BETA2))
    if OPTIMIZER == "adam":
        return torch.optim.Adam([{"params": decay + no_decay, "weight_decay": 0.0}], lr=LEARNING_RATE, betas=(0.9, ADAM_BETA2))
    if OPTIMIZER == "sgd":
        return torch.optim.SGD(groups, lr=LEARNING_RATE, momentum=0.9, nesterov=True)
    raise ValueError(f"unknown OPTIMIZER {OPTIMIZER!r}")


def learning_rate(step: int, progress: float) -> float:
    if step < WARMUP_STEPS:
        return LEARNING_RATE * (step + 1) / WARMUP_STEPS
    if LR_SCHEDULE == "constant":
        return LEARNING_RATE
    if LR_SCHEDULE == "linear":
        return LEARNING_RATE * (1.0 - (1.0 - FINAL_LR_FRAC) * progress)
    if LR_SCHEDULE == "cosine":
        return LEARNING_RATE * (FINAL_LR_FRAC + (1.0 - FINAL_LR_FRAC) * 0.5 * (1.0 + math.cos(math.pi * progress)))
    raise ValueError(f"unknown LR_SCHEDULE {LR_SCHEDULE!r}")


# ---------------------------------------------------------------------------- training
def main():
    run = prepare.setup()
    data = prepare.train_tokens(run.device)
    model = GPT(run.vocab_size).to(run.device)
    optimizer = build_optimizer(model)
    num_params = sum(p.numel() for p in model.parameters())
    print(f"num_params: {num_params}", flush=True)
    on_cuda = run.device.type == "cuda"  # bf16 autocast on CUDA; CPU trains in fp32
    autocast = (lambda: torch.autocast(device_type="cuda", dtype=torch.bfloat16)) if on_cuda else contextlib.nullcontext
    clock = prepare.TrainingClock(run.time_budget, run.device)
    step = 0
    loss_value = float("nan")
    next_report = 0.25
    model.train()
    while not clock.done:
        lr = learning_rate(step, clock.progress)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, y = prepare.get_batch(data, BATCH_SIZE, BLOCK_SIZE, run.generator)
        with autocast():
            logits = model(x)
        loss = F.cross_entropy(logits.float().view(-1, logits.size(-1)), y.view(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if GRAD_CLIP > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), GRAD_CLIP)
        optimizer.step()
        loss_value = loss.item()
        if not math.isfinite(loss_value):
            raise SystemExit(f"error: training loss is {loss_value} at step {step}")
        clock.tick()
        step += 1
        if clock.progress >= next_report:
            print(f"step {step}  progress {clock.progress:.2f}  loss {loss_value:.4f}  lr {lr:.2e}", flush=True)
            next_report += 0.25
    prepare.save_checkpoint(model, BLOCK_SIZE, stats={"training_seconds": clock.elapsed, "num_steps": step})
    print(f"training_seconds: {clock.elapsed:.1f}")
    print(f"num_steps: {step}")
    print(f"train_loss: {loss_value:.4f}")


if __name__ == "__main__":
    main()

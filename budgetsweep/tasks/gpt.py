"""A small decoder-only transformer (GPT) for ``task=charlm``. Imports only torch.

Token and learned position embeddings, ``n_layer`` pre-LayerNorm blocks (causal self-attention,
then a GELU MLP of width 4 x ``n_embd``), a final LayerNorm, and an output head that shares its
weight with the token embedding. ``forward(idx)`` maps token ids (B, T), T <= ``context``, to
logits (B, T, vocab_size); shorter sequences are fine (sequence-length warmup crops batches).

Cost (``flops_per_token``): training FLOPs per token, counted the way
``torch.utils.flop_counter`` counts them (multiply-adds of matrix products, x2):

    6 x M + 12 x n_layer x T x n_embd

- M = the weights of every matrix product: 12 x n_layer x n_embd^2 (query/key/value 3d^2, output
  projection d^2, MLP 8d^2) plus the output head n_embd x vocab_size. The head is counted although
  its weight is the (tied) embedding, because it is a real matrix product; embedding look-ups,
  biases, LayerNorm, GELU and softmax are not counted (no matrix product). 6 = 2 (multiply and
  add) x 3 (forward, and backward for inputs and weights).
- Attention: per token and layer the forward pass computes T query-key scores and a T-term
  weighted sum of values over n_embd channels (2 x 2 x T x n_embd FLOPs), the backward pass
  twice that: 12 x n_layer x T x n_embd. Causal masking is not discounted (the convention of
  PaLM's model FLOPs utilisation and of the flop counter).
  Kaplan et al.'s 6 x n_layer x T x n_embd counts the score product only; ours adds the value
  product. It equals what the flop counter counts on the math attention kernel; the fused kernels'
  backward pass recomputes the scores, which the counter adds (2 x n_layer x T x n_embd more).
"""
from __future__ import annotations

import inspect
import math

import torch
from torch import nn
from torch.nn import functional as F


FLOPS_FORMULA = "6*(12*n_layer*n_embd^2 + n_embd*vocab_size) + 12*n_layer*context*n_embd"


def _check_int(key: str, value, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{key}={value!r} is not allowed; {key} must be an integer >= {low}")
    return value


class CausalSelfAttention(nn.Module):
    def __init__(self, n_embd: int, n_head: int, dropout: float, bias: bool) -> None:
        super().__init__()
        self.n_head = n_head
        self.dropout = dropout
        self.qkv = nn.Linear(n_embd, 3 * n_embd, bias=bias)
        self.proj = nn.Linear(n_embd, n_embd, bias=bias)
        self.resid_drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        # (B, T, 3d) -> three tensors (B, heads, T, d / heads)
        q, k, v = self.qkv(x).view(b, t, 3, self.n_head, d // self.n_head).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True,
                                           dropout_p=self.dropout if self.training else 0.0)
        y = y.transpose(1, 2).reshape(b, t, d)
        return self.resid_drop(self.proj(y))


class MLPBlock(nn.Module):
    def __init__(self, n_embd: int, dropout: float, bias: bool) -> None:
        super().__init__()
        self.up = nn.Linear(n_embd, 4 * n_embd, bias=bias)
        self.down = nn.Linear(4 * n_embd, n_embd, bias=bias)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.drop(self.down(F.gelu(self.up(x))))


class Block(nn.Module):
    """Pre-LayerNorm residual block: x + attn(ln(x)), then x + mlp(ln(x))."""

    def __init__(self, n_embd: int, n_head: int, dropout: float, bias: bool) -> None:
        super().__init__()
        self.ln1 = nn.LayerNorm(n_embd, bias=bias)
        self.attn = CausalSelfAttention(n_embd, n_head, dropout, bias)
        self.ln2 = nn.LayerNorm(n_embd, bias=bias)
        self.mlp = MLPBlock(n_embd, dropout, bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class GPT(nn.Module):
    """A character-level GPT. ``vocab_size`` and ``context`` come from the task's data."""

    def __init__(self, vocab_size: int, context: int, n_layer: int = 4, n_head: int = 4, n_embd: int = 128,
                 dropout: float = 0.0, bias: bool = True) -> None:
        super().__init__()
        _check_int("vocab_size", vocab_size, 1)
        _check_int("task.context", context, 1)
        _check_int("model.n_layer", n_layer, 1)
        _check_int("model.n_head", n_head, 1)
        _check_int("model.n_embd", n_embd, 1)
        if n_embd % n_head:
            raise ValueError(f"model.n_embd={n_embd} is not divisible by model.n_head={n_head}; "
                             "the width must be a multiple of the number of heads")
        if not (isinstance(dropout, (int, float)) and 0 <= dropout < 1):
            raise ValueError(f"model.dropout={dropout!r} is not allowed; model.dropout must be in [0, 1)")
        if not isinstance(bias, bool):
            raise ValueError(f"model.bias={bias!r} is not allowed; model.bias must be true or false")
        self.vocab_size, self.context = vocab_size, context
        self.n_layer, self.n_head, self.n_embd = n_layer, n_head, n_embd
        self.tok_emb = nn.Embedding(vocab_size, n_embd)
        self.pos_emb = nn.Embedding(context, n_embd)
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(Block(n_embd, n_head, dropout, bias) for _ in range(n_layer))
        self.ln_f = nn.LayerNorm(n_embd, bias=bias)
        self.head = nn.Linear(n_embd, vocab_size, bias=False)
        self.head.weight = self.tok_emb.weight  # weight tying
        self._init_weights()

    def _init_weights(self) -> None:
        # GPT-2 style: N(0, 0.02) everywhere, residual output projections scaled by 1/sqrt(2 n_layer)
        # so the residual stream's variance does not grow with depth
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        for block in self.blocks:
            for proj in (block.attn.proj, block.mlp.down):
                nn.init.normal_(proj.weight, mean=0.0, std=0.02 / math.sqrt(2 * self.n_layer))

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        t = idx.shape[1]
        if t > self.context:
            raise ValueError(f"a sequence of {t} tokens is longer than the model's context ({self.context})")
        pos = torch.arange(t, device=idx.device)
        x = self.drop(self.tok_emb(idx) + self.pos_emb(pos))
        for block in self.blocks:
            x = block(x)
        return self.head(self.ln_f(x))

    # -- cost -----------------------------------------------------------------------------
    def num_params(self) -> int:
        """Trainable parameters, each tied weight counted once."""
        return sum(p.numel() for p in self.parameters())

    def matmul_params(self) -> int:
        return matmul_params(self.n_layer, self.n_embd, self.vocab_size)

    def flops_per_token(self, seq_len: int | None = None) -> float:
        """Training (forward + backward) FLOPs per token at sequence length ``seq_len`` (default: context)."""
        return flops_per_token(self.n_layer, self.n_embd, self.vocab_size, self.context if seq_len is None else seq_len)

    @classmethod
    def analytic_cost(cls, **config) -> dict[str, float]:
        """Size and training FLOPs per token from the constructor's arguments, without building the model."""
        bound = inspect.signature(cls).bind(**config)
        bound.apply_defaults()
        a = bound.arguments
        v, t, n_layer, d, bias = a["vocab_size"], a["context"], a["n_layer"], a["n_embd"], a["bias"]
        norms = (2 * n_layer + 1) * d * (2 if bias else 1)
        biases = n_layer * 9 * d if bias else 0  # qkv 3d, proj d, MLP 4d + d
        params = (v + t) * d + 12 * n_layer * d * d + norms + biases
        return {"params": params, "matmul_params": matmul_params(n_layer, d, v),
                "flops_per_token": flops_per_token(n_layer, d, v, t), "flops_per_token_formula": FLOPS_FORMULA}


def matmul_params(n_layer: int, n_embd: int, vocab_size: int) -> int:
    """Weights that take part in a matrix product per token: the blocks' linear layers and the head."""
    return 12 * n_layer * n_embd ** 2 + n_embd * vocab_size


def flops_per_token(n_layer: int, n_embd: int, vocab_size: int, seq_len: int) -> float:
    """Training FLOPs per token (see the module docstring)."""
    return 6.0 * matmul_params(n_layer, n_embd, vocab_size) + 12.0 * n_layer * seq_len * n_embd

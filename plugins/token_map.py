"""The `token_map` generator: structured memorization, "from token 3 to token 7" (paper §1).

Each sequence is a string of input tokens; a rule says "input token a at position p maps to
output token b at position q" (p <= q, the network has read a by then; q >= 2, layer 1 is not
in the loss of §2.2). Every sequence that has a at p gets the one-hot of b (times
``target_scale``) added to its target at q; all other targets are zero. Learning the data means
learning each mapping without destroying the others, the question the paper asks in §1.

``labels: random`` keeps the inputs and how many one-hots each sequence gets, and draws each
one-hot's position q (2 to L) and output token anew, uniformly and independently of the tokens:
the task's random-label twin ("Understanding deep learning requires rethinking generalization",
Zhang et al. 2017), with targets of the same sizes and no rule to learn.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, Literal

import torch
from pydantic import Field, model_validator

from overparam import Generator, Params, Problem, hookimpl
from overparam.engine import FIRST_INPUT_LAST_COORDINATE, first_input_separation, seeded_generator

if TYPE_CHECKING:
    from torch import Tensor


class TokenRule(Params):
    """One mapping: input ``token`` at ``position`` gives output token ``output`` at ``at``."""

    token: int = Field(ge=0, description="input token a (0 <= a < vocab)")
    position: int = Field(ge=1, description="position p of the input token, 1-based")
    output: int = Field(ge=0, description="output token b (0 <= b < outputs)")
    at: int = Field(ge=2, description="position q >= max(p, 2) of the output token, 1-based")


class TokenMapParams(Params):
    """Sizes of the task, and its rules: drawn at random, or given in ``mapping``."""

    n: int = Field(8, ge=1, description="number of sequences (<= vocab: first tokens are distinct)")
    L: int = Field(8, ge=2, description="sequence length (layers)")
    vocab: int = Field(8, ge=2, description="number of input tokens; d_x = vocab + 1")
    outputs: int = Field(4, ge=1, description="number of output tokens; d = outputs")
    rules: int = Field(4, ge=0, description="random rules drawn when mapping is empty")
    mapping: tuple[TokenRule, ...] = Field((), description="explicit rules, used instead of random ones")
    target_scale: float = Field(1.0, gt=0, description="norm of one rule's output one-hot")
    labels: Literal["true", "random"] = Field(
        "true", description="true: the rules' targets; random: as many one-hots per sequence, each at a position and "
                            "of an output token drawn uniformly, independently of the tokens")

    @model_validator(mode="after")
    def _consistent(self) -> TokenMapParams:
        if self.n > self.vocab:
            raise ValueError(f"n = {self.n} sequences need distinct first tokens, but vocab = {self.vocab}; "
                             "raise vocab")
        for index, rule in enumerate(self.mapping):
            if rule.token >= self.vocab or rule.output >= self.outputs:
                raise ValueError(f"mapping[{index}]: token {rule.token} must be < vocab = {self.vocab} and "
                                 f"output {rule.output} < outputs = {self.outputs}")
            if not rule.position <= rule.at <= self.L:
                raise ValueError(f"mapping[{index}]: need position <= at <= L = {self.L}, "
                                 f"got position {rule.position}, at {rule.at}")
        return self


def embed(tokens: Tensor, vocab: int) -> Tensor:
    """``x = (e_t / sqrt(2), 1/sqrt(2))``: unit norm and last coordinate 1/sqrt(2), as §2.1
    asks of x_{i,1}; two different tokens are at distance exactly 1."""
    onehot = torch.nn.functional.one_hot(tokens, vocab).to(torch.float64)
    return FIRST_INPUT_LAST_COORDINATE * torch.cat([onehot, torch.ones(*tokens.shape, 1, dtype=torch.float64)], dim=-1)


def draw_tokens(n: int, L: int, vocab: int, rng: torch.Generator) -> Tensor:
    """Tokens ``[n, L]``: distinct at position 1 (so δ = 1 > 0, Assumption 2.1), uniform after."""
    first = torch.randperm(vocab, generator=rng)[:n].unsqueeze(1)
    rest = torch.randint(vocab, (n, L - 1), generator=rng)
    return torch.cat([first, rest], dim=1)


def draw_rules(count: int, tokens: Tensor, outputs: int, rng: torch.Generator) -> list[TokenRule]:
    """``count`` random rules, each read off the data so it fires at least once: positions
    p <= q with q >= 2, a sequence i, the rule's token is that sequence's token at p."""
    n, L = tokens.shape
    rules = []
    for _ in range(count):
        at = int(torch.randint(2, L + 1, (1,), generator=rng))
        position = int(torch.randint(1, at + 1, (1,), generator=rng))
        sequence = int(torch.randint(n, (1,), generator=rng))
        output = int(torch.randint(outputs, (1,), generator=rng))
        rules.append(TokenRule(token=int(tokens[sequence, position - 1]), position=position, output=output, at=at))
    return rules


def apply_rules(tokens: Tensor, rules: Sequence[TokenRule], outputs: int, scale: float) -> Tensor:
    """Targets ``[n, L, outputs]``: the sum, over the rules that fire in a sequence, of
    ``scale * e_output`` at the rule's output position."""
    n, L = tokens.shape
    Y = torch.zeros(n, L, outputs, dtype=torch.float64)
    for rule in rules:
        fires = tokens[:, rule.position - 1] == rule.token
        Y[fires, rule.at - 1, rule.output] += scale
    return Y


def random_targets(tokens: Tensor, rules: Sequence[TokenRule], outputs: int, scale: float,
                   rng: torch.Generator) -> Tensor:
    """Targets ``[n, L, outputs]`` with as many one-hots (times ``scale``) in each sequence as
    ``apply_rules`` puts there, each at a position q in 2..L and of an output token drawn
    uniformly from ``rng``, independently of the tokens."""
    n, L = tokens.shape
    fires = [tokens[:, rule.position - 1] == rule.token for rule in rules]
    sequences = torch.stack(fires).nonzero()[:, 1] if fires else torch.zeros(0, dtype=torch.long)
    at = torch.randint(1, L, sequences.shape, generator=rng)  # 0-based: positions 2..L
    output = torch.randint(outputs, sequences.shape, generator=rng)
    Y = torch.zeros(n, L, outputs, dtype=torch.float64)
    return Y.index_put_((sequences, at, output), torch.full(sequences.shape, scale, dtype=torch.float64),
                        accumulate=True)


class TokenMap(Generator):
    """Structured memorization: input token a at position p maps to output token b at position q."""

    name: ClassVar[str] = "token_map"
    Params: ClassVar[type[Params]] = TokenMapParams

    def shape(self, params: TokenMapParams) -> tuple[int, int, int, int]:
        """``(n, L, vocab + 1, outputs)``: one-hot tokens plus the constant coordinate in, one-hot
        output tokens out."""
        return (params.n, params.L, params.vocab + 1, params.outputs)

    def generate(self, params: TokenMapParams, seed: int) -> Problem:
        """Tokens, then (unless ``mapping`` is given) rules, then (for random labels) the random
        targets, from one stream seeded by ``seed``; inputs ``[1, n, L, vocab + 1]`` of unit norm,
        targets ``[1, n, L, outputs]``, δ measured (1 for n >= 2: the first tokens are distinct)."""
        rng = seeded_generator(seed)
        tokens = draw_tokens(params.n, params.L, params.vocab, rng)
        rules = list(params.mapping) or draw_rules(params.rules, tokens, params.outputs, rng)
        X = embed(tokens, params.vocab)
        if params.labels == "random":
            Y = random_targets(tokens, rules, params.outputs, params.target_scale, rng)
        else:
            Y = apply_rules(tokens, rules, params.outputs, params.target_scale)
        return Problem(X.unsqueeze(0), Y.unsqueeze(0), torch.tensor([first_input_separation(X)], dtype=torch.float64))


@hookimpl
def overparam_register_generators() -> list[type[Generator]]:
    """The `token_map` generator."""
    return [TokenMap]

"""A linear-chain conditional random field over tag sequences, batched on tensors.

Scores a tag sequence as start[y0] + sum_t emission[t, y_t] + sum_t transition[y_{t-1}, y_t]
+ end[y_last]. The loss is the negative log-likelihood, with the log-partition from the
forward algorithm; decoding is Viterbi. Both loop over time only, never over the batch.
Shapes: B batch, T time, C tags; ``mask`` (B, T) is True on real tokens, and every sequence
has at least one (mask[:, 0] is all True).
"""

from __future__ import annotations

import torch
from torch import nn


class CRF(nn.Module):
    def __init__(self, num_tags: int):
        super().__init__()
        self.num_tags = num_tags
        self.transitions = nn.Parameter(torch.zeros(num_tags, num_tags))  # [from, to]
        self.start = nn.Parameter(torch.zeros(num_tags))
        self.end = nn.Parameter(torch.zeros(num_tags))

    def sequence_score(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Unnormalised score of the given tags: (B,)."""
        maskf = mask.float()
        score = self.start[tags[:, 0]] + emissions[:, 0].gather(1, tags[:, :1]).squeeze(1)
        step_emissions = emissions[:, 1:].gather(2, tags[:, 1:, None]).squeeze(2)  # (B, T-1)
        step_transitions = self.transitions[tags[:, :-1], tags[:, 1:]]  # (B, T-1)
        score = score + ((step_emissions + step_transitions) * maskf[:, 1:]).sum(1)
        last = tags.gather(1, (mask.sum(1) - 1)[:, None]).squeeze(1)
        return score + self.end[last]

    def log_partition(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """log of the sum over all tag sequences of exp(score): (B,)."""
        alpha = self.start + emissions[:, 0]  # (B, C)
        for t in range(1, emissions.size(1)):
            # alpha[b, j] = logsumexp_i alpha[b, i] + transition[i, j] + emission[b, t, j]
            step = torch.logsumexp(alpha[:, :, None] + self.transitions[None], dim=1) + emissions[:, t]
            alpha = torch.where(mask[:, t, None], step, alpha)
        return torch.logsumexp(alpha + self.end, dim=1)

    def neg_log_likelihood(self, emissions: torch.Tensor, tags: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Mean over the batch of -log p(tags | emissions)."""
        return (self.log_partition(emissions, mask) - self.sequence_score(emissions, tags, mask)).mean()

    @torch.no_grad()
    def decode(self, emissions: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The highest-scoring tag sequence of each item (Viterbi): (B, T); padding positions
        repeat the last real tag and are to be ignored."""
        batch, length, num_tags = emissions.shape
        score = self.start + emissions[:, 0]  # (B, C)
        identity = torch.arange(num_tags, device=emissions.device).expand(batch, num_tags)
        history = []
        for t in range(1, length):
            candidates = score[:, :, None] + self.transitions[None]  # (B, from, to)
            best, pointers = candidates.max(dim=1)  # (B, to)
            step = best + emissions[:, t]
            keep = mask[:, t, None]
            score = torch.where(keep, step, score)
            # Past a sequence's end the pointer is the identity, so backtracking passes through.
            history.append(torch.where(keep, pointers, identity))
        tags = [(score + self.end).argmax(dim=1)]  # (B,)
        for pointers in reversed(history):
            tags.append(pointers.gather(1, tags[-1][:, None]).squeeze(1))
        return torch.stack(tags[::-1], dim=1)

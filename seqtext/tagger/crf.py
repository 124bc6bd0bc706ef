"""A linear-chain conditional random field over tag sequences, batched on tensors.

Scores a tag sequence as start[y0] + sum_t emission[t, y_t] + sum_t transition[y_{t-1}, y_t]
+ end[y_last]. The loss is the negative log-likelihood, with the log-partition from the
forward algorithm; decoding is Viterbi. Both loop over time only, never over the batch.

For predictions with real probabilities, ``forward_backward`` gives every position's forward
and backward log-scores in one batched pass (log space throughout, so long sentences never
underflow, and in float64); from them ``marginals`` are p(y_t = j | sentence) and ``span_log_probs`` the
log-probability that the tag sequence passes through a constrained stretch of tags (what a
decoded entity is: "these tokens form an X entity, exactly these boundaries"). A tagger with
a softmax decoder uses the same code with zero transitions (a CRF whose positions are
independent), where these are the softmax probabilities and their products.
Shapes: B batch, T time, C tags, S spans; ``mask`` (B, T) is True on real tokens, and every
sequence has at least one (mask[:, 0] is all True).
"""

from __future__ import annotations

import torch
from torch import nn

NEG_INF = float("-inf")


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

    @torch.no_grad()
    def forward_backward(self, emissions: torch.Tensor, mask: torch.Tensor):
        """Forward scores ``alpha`` (B, T, C): log of the summed scores of every tag prefix that
        ends in tag j at t, emission at t included; backward scores ``beta`` (B, T, C): log of
        the summed scores of every way to finish the sequence after tag j at t (the end score
        included, the emission at t not); and the log-partition (B,). Padding positions repeat
        the last real alpha and hold ``end`` in beta; they are to be ignored."""
        emissions, transitions, start, end = _exact(emissions, self.transitions, self.start, self.end)
        batch, length, num_tags = emissions.shape
        alphas = [start + emissions[:, 0]]
        for t in range(1, length):
            step = torch.logsumexp(alphas[-1][:, :, None] + transitions[None], dim=1) + emissions[:, t]
            alphas.append(torch.where(mask[:, t, None], step, alphas[-1]))
        last_end = end.expand(batch, num_tags)
        betas = [last_end]
        for t in range(length - 2, -1, -1):
            # beta[b, i] = logsumexp_j transition[i, j] + emission[b, t+1, j] + beta_next[b, j]
            step = torch.logsumexp(transitions[None] + (emissions[:, t + 1] + betas[-1])[:, None, :], dim=2)
            betas.append(torch.where(mask[:, t + 1, None], step, last_end))
        alpha = torch.stack(alphas, dim=1)
        beta = torch.stack(betas[::-1], dim=1)
        log_z = torch.logsumexp(alphas[-1] + end, dim=1)
        return alpha, beta, log_z

    @torch.no_grad()
    def marginals(self, emissions: torch.Tensor, mask: torch.Tensor, fb=None) -> torch.Tensor:
        """p(y_t = j | sentence) (B, T, C): each real position sums to 1, padding is 0.
        ``fb``: the result of ``forward_backward`` if it is at hand."""
        alpha, beta, log_z = fb if fb is not None else self.forward_backward(emissions, mask)
        probs = (alpha + beta - log_z[:, None, None]).exp()
        return probs * mask[..., None]

    @torch.no_grad()
    def span_log_probs(self, emissions: torch.Tensor, mask: torch.Tensor, fb, rows: torch.Tensor, starts: torch.Tensor,
                       ends: torch.Tensor, enter: torch.Tensor, inside: torch.Tensor, leave: torch.Tensor) -> torch.Tensor:
        """log p(the tags of sentence ``rows[k]`` from ``starts[k]`` to ``ends[k]`` (exclusive)
        follow the allowed transitions) for each of S stretches, all at once: (S,).

        ``enter`` (S, C+1, C): allowed (tag before the start, tag at the start), the last row
        standing for the sentence start; ``inside`` (S, C, C): allowed consecutive tags within
        the stretch; ``leave`` (S, C, C+1): allowed (last tag, tag after the end), the last
        column standing for the sentence end. Computed as a forward pass restricted to those
        transitions, joined to the unrestricted forward scores before the stretch and backward
        scores after it."""
        emissions, transitions, start, end = _exact(emissions, self.transitions, self.start, self.end)
        alpha, beta, log_z = fb
        length = emissions.size(1)
        lengths = mask.sum(1)[rows]
        enter_scores, inside_scores, leave_scores = _log_allowed(enter), _log_allowed(inside), _log_allowed(leave)
        before = alpha[rows, (starts - 1).clamp(min=0)]  # (S, C)
        from_before = torch.logsumexp(before[:, :, None] + transitions[None] + enter_scores[:, :-1], dim=1)
        from_start = start[None] + enter_scores[:, -1]
        score = torch.where((starts == 0)[:, None], from_start, from_before) + emissions[rows, starts]
        widths = ends - starts
        for k in range(1, int(widths.max()) if len(widths) else 0):
            step = torch.logsumexp(score[:, :, None] + transitions[None] + inside_scores, dim=1)
            step = step + emissions[rows, (starts + k).clamp(max=length - 1)]
            score = torch.where((k < widths)[:, None], step, score)
        to_end = torch.logsumexp(score + end[None] + leave_scores[:, :, -1], dim=1)
        after = ends.clamp(max=length - 1)
        onward = (emissions[rows, after] + beta[rows, after])[:, None, :]  # (S, 1, C)
        to_next = torch.logsumexp((score[:, :, None] + transitions[None] + leave_scores[:, :, :-1] + onward).flatten(1), dim=1)
        return torch.where(ends >= lengths, to_end, to_next) - log_z[rows]


def _exact(*tensors: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The tensors in float64: scores summed over a long sentence reach the hundreds, where
    float32 keeps only about 1e-5 of a probability computed from them; float64 keeps 1e-13."""
    return tuple(t.double() for t in tensors)


def _log_allowed(allowed: torch.Tensor) -> torch.Tensor:
    """0 where allowed, -inf where not: added to scores, it removes the forbidden paths."""
    return torch.zeros(allowed.shape, dtype=torch.float64, device=allowed.device).masked_fill(~allowed, NEG_INF)

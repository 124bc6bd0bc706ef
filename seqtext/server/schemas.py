"""The JSON bodies of the endpoints, as pydantic models: FastAPI checks every request against
them (a missing field, a wrong type, an unknown field or a number out of range is a 422 naming
the field) and publishes them in /openapi.json. Field names are the command line's options in
snake case, and their defaults the library's (``seqtext.configs``: GENERATE, CLASSIFY). Types are strict: ``"5"`` is not a number and ``5`` is not a string."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from seqtext.configs import CLASSIFY, GENERATE, MAX_BEAM, MAX_SEED
from seqtext.server.settings import MAX_SAMPLES

STRICT = ConfigDict(strict=True, extra="forbid", allow_inf_nan=False)
MODEL = Field(None, description="Name of a served model (GET /models); may be left out when one model of the kind is served.")


class TagRequest(BaseModel):
    """Raw text (``text`` or ``texts``), split into sentences and tokens by seqtext's tokenizer,
    or pre-tokenized sentences (``tokens``: one document each, its text the tokens joined by
    spaces)."""

    model_config = STRICT
    model: str | None = MODEL
    text: str | None = Field(None, description="One text; the answer is one document.")
    texts: list[str] | None = Field(None, description="Several texts; the answer is a list of documents, in order.")
    tokens: list[list[str]] | None = Field(None, description="Token lists, one sentence each; the answer is a list of documents.")
    tag_scheme: Literal["iob1", "bio", "bioes"] | None = Field(None, description="Scheme of span tags (default: the training data's).")

    @model_validator(mode="after")
    def _one_input(self):
        if sum(field is not None for field in (self.text, self.texts, self.tokens)) != 1:
            raise ValueError('give one of "text" (one text), "texts" (a list of texts) or "tokens" (a list of token lists)')
        return self


class ClassifyRequest(BaseModel):
    model_config = STRICT
    model: str | None = MODEL
    text: str | None = Field(None, description="One text; the answer is one result.")
    texts: list[str] | None = Field(None, description="Several texts; the answer is a list of results, in order.")
    threshold: float = Field(CLASSIFY.threshold, ge=0, le=1, description="Multi-label models: a label is given from this probability on.")

    @model_validator(mode="after")
    def _one_input(self):
        if (self.text is None) == (self.texts is None):
            raise ValueError('give either "text" (one text) or "texts" (a list of texts)')
        return self


class GenerateRequest(BaseModel):
    model_config = STRICT
    model: str | None = MODEL
    text: str = Field("", description="The seed to continue; empty starts from the model's start token.")
    max_length: int | None = Field(None, ge=0, description=f"Most tokens to generate (default {GENERATE.max_length}, at most "
                                                            "the server's --max-length).")
    temperature: float = Field(GENERATE.temperature, ge=0, le=1000, description="Sampling temperature; 0 is greedy.")
    top_k: int | None = Field(GENERATE.top_k, ge=1, description="Sample among the k most likely tokens.")
    top_p: float | None = Field(GENERATE.top_p, gt=0, le=1, description="Nucleus sampling: the smallest set of tokens with probability mass p.")
    beam_size: int = Field(GENERATE.beam_size, ge=1, le=MAX_BEAM, description="Beam search with this many beams (1: sampling).")
    num_samples: int = Field(GENERATE.num_samples, ge=1, le=MAX_SAMPLES, description="Samples generated together.")
    seed: int | None = Field(GENERATE.seed, ge=0, le=MAX_SEED, description="Random seed: the same request gives the same text.")
    stop: list[str] = Field(default_factory=list, max_length=16, description="End a sample at any of these strings.")
    allow_unk: bool = Field(GENERATE.allow_unk, description="Let the model generate <unk>.")
    stream: bool = Field(False, description="Answer with server-sent events: one {\"text\"} per piece as it is generated, "
                                            "then an event \"done\" with the whole generation.")

    @model_validator(mode="after")
    def _stream_is_one_sample(self):
        if self.stream and (self.num_samples > 1 or self.beam_size > 1):
            raise ValueError("streaming gives one sample: leave out num_samples and beam_size, or stream false")
        if self.num_samples > self.beam_size > 1:
            raise ValueError(f"num_samples ({self.num_samples}) cannot exceed beam_size ({self.beam_size})")
        return self


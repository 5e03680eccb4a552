"""OpenInference semantic conventions (Arize Phoenix, LlamaIndex, LangChain instrumentations).

OpenInference flattens nested values into dotted keys (``llm.token_count.prompt``); these are the
keys norecur lifts into columns of the span table.
"""

from __future__ import annotations

__all__ = [
    "AGENT_NAME",
    "LLM_MODEL_NAME",
    "LLM_PROVIDER",
    "LLM_TOKEN_COUNT_COMPLETION",
    "LLM_TOKEN_COUNT_PROMPT",
    "SESSION_ID",
    "SPAN_KIND",
    "TOOL_NAME",
    "USER_ID",
]

SPAN_KIND = "openinference.span.kind"
"""The AI kind of the span: ``LLM``, ``CHAIN``, ``TOOL``, ``RETRIEVER``, ``EMBEDDING``, ``AGENT``,
``GUARDRAIL``, ``RERANKER``, ``EVALUATOR`` (case-insensitive in the wild)."""

LLM_MODEL_NAME = "llm.model_name"
"""Name of the model the LLM span called."""

LLM_PROVIDER = "llm.provider"
"""Hosting provider of the model (``openai``, ``azure``...)."""

LLM_TOKEN_COUNT_PROMPT = "llm.token_count.prompt"
"""Tokens in the prompt."""

LLM_TOKEN_COUNT_COMPLETION = "llm.token_count.completion"
"""Tokens in the completion."""

TOOL_NAME = "tool.name"
"""Name of the tool a TOOL span called."""

AGENT_NAME = "agent.name"
"""Name of the agent an AGENT span ran."""

SESSION_ID = "session.id"
"""Id of the session (conversation, thread) the span belongs to."""

USER_ID = "user.id"
"""Id of the end user the span served."""

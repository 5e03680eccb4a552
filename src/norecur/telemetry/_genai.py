"""OpenTelemetry GenAI semantic conventions: the attribute keys norecur reads.

Our own table, not the upstream ``opentelemetry-semantic-conventions`` constants, which are being
deprecated and renamed as the conventions move. Deprecated names are kept beside their successors
because exporters in the field still send them; the current name wins when both are present.
"""

from __future__ import annotations

__all__ = [
    "AGENT_NAME",
    "CONVERSATION_ID",
    "ERROR_TYPE",
    "OPERATION_NAME",
    "PROVIDER_NAME",
    "REQUEST_MODEL",
    "RESPONSE_MODEL",
    "SYSTEM",
    "TOOL_NAME",
    "USAGE_COMPLETION_TOKENS",
    "USAGE_INPUT_TOKENS",
    "USAGE_OUTPUT_TOKENS",
    "USAGE_PROMPT_TOKENS",
]

OPERATION_NAME = "gen_ai.operation.name"
"""The operation: ``chat``, ``text_completion``, ``generate_content``, ``embeddings``,
``execute_tool``, ``invoke_agent``, ``create_agent``."""

PROVIDER_NAME = "gen_ai.provider.name"
"""The model provider (``openai``, ``anthropic``, ``aws.bedrock``...). Replaces :data:`SYSTEM`."""

SYSTEM = "gen_ai.system"
"""Deprecated name of :data:`PROVIDER_NAME`."""

REQUEST_MODEL = "gen_ai.request.model"
"""The model the caller asked for."""

RESPONSE_MODEL = "gen_ai.response.model"
"""The model that actually answered (often a dated snapshot of the requested one)."""

USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
"""Tokens in the prompt. Replaces :data:`USAGE_PROMPT_TOKENS`."""

USAGE_PROMPT_TOKENS = "gen_ai.usage.prompt_tokens"
"""Deprecated name of :data:`USAGE_INPUT_TOKENS`."""

USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
"""Tokens in the response. Replaces :data:`USAGE_COMPLETION_TOKENS`."""

USAGE_COMPLETION_TOKENS = "gen_ai.usage.completion_tokens"
"""Deprecated name of :data:`USAGE_OUTPUT_TOKENS`."""

AGENT_NAME = "gen_ai.agent.name"
"""Human-readable name of the agent that ran the span."""

TOOL_NAME = "gen_ai.tool.name"
"""Name of the tool an ``execute_tool`` span called."""

CONVERSATION_ID = "gen_ai.conversation.id"
"""Id of the conversation (session, thread) the call belongs to."""

ERROR_TYPE = "error.type"
"""The class of error the operation ended with (an exception type, ``timeout``, an HTTP status);
a general OpenTelemetry attribute the GenAI conventions require on failed operations."""

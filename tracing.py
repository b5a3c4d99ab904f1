"""OpenTelemetry tracing, off unless OTEL_EXPORTER_OTLP_ENDPOINT is set (docs/observability.md).

When on, one trace follows a request from the API (FastAPI's instrumentation) through the Temporal client
and the workflow to each step and its SMTP hand-over (temporalio.contrib.opentelemetry's interceptor, and
the mailer's own span), exported over OTLP/HTTP. The tracer provider is this module's, not OpenTelemetry's
global one, so that a process (or a test) can switch tracing on and off again.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

_provider: TracerProvider | None = None


def enable(endpoint: str, service_name: str) -> TracerProvider:
    """Export spans to the OTLP/HTTP collector at `endpoint` (`http://collector:4318`) from now on."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    global _provider
    disable()
    provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint.rstrip('/')}/v1/traces")))
    _provider = provider
    return provider


def disable() -> None:
    """Send what is left, and stop tracing."""
    global _provider
    if _provider is not None:
        _provider.shutdown()
        _provider = None


def provider() -> TracerProvider | None:
    return _provider


def tracer(name: str) -> trace.Tracer:
    """A tracer of the configured provider, or one that records nothing when tracing is off."""
    return _provider.get_tracer(name) if _provider is not None else trace.NoOpTracer()


def temporal_interceptors() -> list[Any]:
    """For `Client.connect`: the workers made from the client trace their workflows and steps too."""
    if _provider is None:
        return []
    from temporalio.contrib.opentelemetry import TracingInterceptor

    return [TracingInterceptor(tracer("temporalio"))]


def instrument(app: Any) -> None:
    """Trace every request of the FastAPI `app`, when tracing is on."""
    if _provider is not None:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(app, tracer_provider=_provider, excluded_urls="livez,readyz,metrics")

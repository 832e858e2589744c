"""The options several commands share (one help text each) and what they become for the library."""

from __future__ import annotations

import typer

from ..formats import INPUT_FORMATS

ModelsOption = typer.Option(None, "--models", help="models.toml to use (default: $EL4NER_MODELS or the built-in one)")
LabelsOption = typer.Option(None, "--labels", help="entity types, e.g. person,location:a place")
SchemaOption = typer.Option(None, "--schema", help="schema file (label = description)")
OnlyOption = typer.Option(None, "--only", help="comma-separated model names to use (within the --profile's)")
ProfileOption = typer.Option(
    None,
    "--profile",
    metavar="NAME",
    help="settings profile of models.toml: accurate (default: its pipeline table, every model) or fast (three "
    "small models, short demonstrations), or one of your own; see README",
)
KOption = typer.Option(None, "--k", help="demonstrations per sentence")
NoVerifyOption = typer.Option(False, "--no-verify", help="skip the verification stage")
NoPoolNamesOption = typer.Option(
    False,
    "--no-pool-names",
    help="the models' vote alone: no names accepted, and no words rejected, for what the pool labels",
)
InputFormatOption = typer.Option(
    None,
    "--input-format",
    help=f"format of the labelled pools: {', '.join(INPUT_FORMATS)} (default: by suffix and content)",
)


def model_names(only: str | None) -> list[str] | None:
    """--only's model names (None: every model)."""
    return only.split(",") if only else None


def tagger_overrides(k: int | None, no_verify: bool, no_pool_names: bool = False) -> dict:
    """The models.toml settings that --k, --no-verify and --no-pool-names override (only those given)."""
    given = (("k", k), ("verify", False if no_verify else None), ("lexicon", False if no_pool_names else None))
    chosen = {key: value for key, value in given if value is not None}
    return {**chosen, "lexicon_filter": False} if no_pool_names else chosen

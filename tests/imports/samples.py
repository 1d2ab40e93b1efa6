"""Where the GDV's official sample file is: read from the shared reference data
(`../shared/domain/gdv/` next to the repository), never copied into the project."""

from pathlib import Path

SHARED = next(
    (p / "shared" for p in Path(__file__).resolve().parents if (p / "shared" / "domain").is_dir()), None
)
GDV_SAMPLE = SHARED / "domain" / "gdv" / "musterdatei_041222.txt" if SHARED else None


def gdv_sample_available() -> bool:
    return GDV_SAMPLE is not None and GDV_SAMPLE.exists()

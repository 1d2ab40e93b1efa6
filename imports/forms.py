from django import forms
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from brokercrm.forms import BootstrapFormMixin

from . import conf
from .layouts import LAYOUTS
from .models import ImportJob
from .parsing import FileProblem
from .services import check_upload_size


class UploadForm(BootstrapFormMixin, forms.Form):
    kind = forms.ChoiceField(
        label=_("What does the file contain?"),
        choices=[(v, capfirst(label)) for v, label in ImportJob.Kind.choices],
    )
    file = forms.FileField(
        label=_("File"),
        help_text=_("CSV (UTF-8 or Windows-1252, separated by ; or ,), Excel workbook (.xlsx) or GDV file."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        limit_mb = conf.max_upload_bytes() // (1024 * 1024)
        self.fields["file"].help_text = _(
            "CSV (UTF-8 or Windows-1252, separated by ; or ,), Excel workbook (.xlsx) or GDV file; "
            "up to %(limit)s MB."
        ) % {"limit": limit_mb}

    def clean_file(self):
        upload = self.cleaned_data["file"]
        try:
            check_upload_size(upload.size)
        except FileProblem as exc:
            raise forms.ValidationError(str(exc), code="too_large") from None
        return upload


class MappingForm(BootstrapFormMixin, forms.Form):
    """One select per column of the file: which CRM field it holds (or none)."""

    def __init__(self, *args, job: ImportJob, **kwargs):
        super().__init__(*args, **kwargs)
        self.job = job
        choices = [("", _("— do not import —"))] + [
            (column.key, f"{column.label} *" if column.required else str(column.label))
            for column in LAYOUTS[job.kind]
        ]
        samples = list(zip(*job.sample, strict=False)) if job.sample else []
        for index, header in enumerate(job.headers):
            name = f"column_{index}"
            self.fields[name] = forms.ChoiceField(
                label=header or _("(column %(number)s without a name)") % {"number": index + 1},
                choices=choices,
                required=False,
                initial=job.mapping.get(str(index), ""),
            )
            values = [v for v in (samples[index] if index < len(samples) else ()) if v][:3]
            self.fields[name].help_text = ", ".join(values)

    def mapping(self) -> dict[str, str]:
        return {name.removeprefix("column_"): value for name, value in self.cleaned_data.items() if value}

"""Owner-only pages of the import: upload, column mapping, preview (the dry run's outcome),
confirm, progress (polled by htmx while a check or import runs) and the exports."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth.mixins import PermissionRequiredMixin
from django.core.exceptions import ValidationError
from django.http import HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect
from django.utils.http import content_disposition_header
from django.views import View
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.generic import DetailView, FormView
from django.views.generic.detail import SingleObjectMixin
from django_htmx.http import HttpResponseClientRefresh

from brokercrm.accounts.roles import OWNER_PERMISSION

from . import conf, selectors, services
from .exports import CONTENT_TYPES, export_file
from .forms import MappingForm, UploadForm
from .models import ImportJob
from .parsing import FileProblem

# Room for the multipart envelope and the other form fields around the file.
MULTIPART_SLACK = 64 * 1024


def refuse_oversized_upload(view):
    """Marks a POST whose Content-Length exceeds the upload limit before its body is read
    (CSRF is checked only for bodies that will be read: an oversized one changes nothing)."""

    protected = csrf_protect(view)

    @csrf_exempt
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        request.upload_too_large = (
            request.method == "POST" and length > conf.max_upload_bytes() + MULTIPART_SLACK
        )
        if request.upload_too_large:
            request.upload_size = length
            return view(request, *args, **kwargs)
        return protected(request, *args, **kwargs)

    return wrapped


class OwnerRequiredMixin(PermissionRequiredMixin):
    permission_required = OWNER_PERMISSION
    raise_exception = True


class ImportStartView(OwnerRequiredMixin, FormView):
    template_name = "imports/importjob_start.html"
    form_class = UploadForm

    def get_initial(self):
        return {"kind": self.request.GET.get("kind", ImportJob.Kind.CUSTOMERS)}

    def get_context_data(self, **kwargs):
        return super().get_context_data(jobs=selectors.import_job_list(), **kwargs)

    def post(self, request, *args, **kwargs):
        if request.upload_too_large:  # the body stays unread: answer with the limit at once
            try:
                services.check_upload_size(request.upload_size)
            except FileProblem as exc:
                form = self.form_class(initial=self.get_initial())
                return self.render_to_response(
                    self.get_context_data(form=form, upload_error=str(exc)), status=413
                )
        return super().post(request, *args, **kwargs)

    def form_valid(self, form):
        try:
            job = services.import_job_create(
                upload=form.cleaned_data["file"], kind=form.cleaned_data["kind"], by=self.request.user
            )
        except FileProblem as exc:
            form.add_error("file", str(exc))
            return self.form_invalid(form)
        if job.status == ImportJob.Status.MAPPING:
            return redirect("imports:mapping", pk=job.pk)
        return redirect(job)


class ImportJobMappingView(OwnerRequiredMixin, SingleObjectMixin, FormView):
    template_name = "imports/importjob_mapping.html"
    form_class = MappingForm
    context_object_name = "job"

    def get_queryset(self):
        return selectors.import_job_detail_queryset().exclude(kind=ImportJob.Kind.GDV)

    def dispatch(self, request, *args, **kwargs):
        self.object = self.get_object() if request.user.has_perm(OWNER_PERMISSION) else None
        if self.object is not None and self.object.status not in services.MAPPABLE:
            return redirect(self.object)
        return super().dispatch(request, *args, **kwargs)

    def get_form_kwargs(self):
        return {**super().get_form_kwargs(), "job": self.object}

    def form_valid(self, form):
        try:
            services.import_job_map(job=self.object, mapping=form.mapping())
        except ValidationError as exc:
            form.add_error(None, exc)
            return self.form_invalid(form)
        return redirect(self.object)


class ImportJobDetailView(OwnerRequiredMixin, DetailView):
    template_name = "imports/importjob_detail.html"
    context_object_name = "job"

    def get_queryset(self):
        return selectors.import_job_detail_queryset()

    def get(self, request, *args, **kwargs):
        self.object = self.get_object()
        if self.object.status == ImportJob.Status.MAPPING:
            return redirect("imports:mapping", pk=self.object.pk)
        return self.render_to_response(self.get_context_data(object=self.object))

    def get_context_data(self, **kwargs):
        job = self.object
        return super().get_context_data(
            summary=selectors.import_job_summary(job=job),
            file_checks=selectors.import_job_file_checks(job=job),
            results=selectors.import_job_results(job=job),
            retry_form=UploadForm(initial={"kind": job.kind}),
            **kwargs,
        )


class ImportJobProgressView(OwnerRequiredMixin, DetailView):
    """The progress bar, polled by htmx; once the run has ended the page reloads."""

    template_name = "imports/partials/progress.html"
    context_object_name = "job"

    def get_queryset(self):
        return selectors.import_job_detail_queryset()

    def render_to_response(self, context, **kwargs):
        if not self.object.is_running:
            return HttpResponseClientRefresh() if self.request.htmx else redirect(self.object)
        return super().render_to_response(context, **kwargs)


class ImportJobConfirmView(OwnerRequiredMixin, SingleObjectMixin, View):
    def get_queryset(self):
        return selectors.import_job_detail_queryset()

    def post(self, request, *args, **kwargs):
        job = self.get_object()
        try:
            services.import_job_confirm(job=job)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        return redirect(job)


class ExportView(OwnerRequiredMixin, View):
    def get(self, request, kind: str, file_format: str):
        try:
            content, name = export_file(kind=kind, file_format=file_format, params=request.GET)
        except ValidationError as exc:
            return HttpResponseBadRequest(" ".join(exc.messages), content_type="text/plain; charset=utf-8")
        response = HttpResponse(content, content_type=CONTENT_TYPES[file_format])
        response["Content-Disposition"] = content_disposition_header(True, name)
        return response

import contextlib
import json

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import Max
from django.http import Http404, HttpResponseNotAllowed, JsonResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from leadengine.admin_paging import CappedCountPaginator
from leadengine.admin_scoping import WorkspaceScopedAdmin, WorkspaceScopedForm, WorkspaceScopedInline
from leadengine.scoping import caller_workspace_ids
from leads.catalogue import DEFAULT_FIELDS
from leads.models import CustomField
from webhooks.retention import request_log_retention_text

from . import mapping
from .body import parse_json
from .errors import InboundError
from .models import (
    SUGGESTED_MAPPINGS,
    FieldMapping,
    InboundRequest,
    InboundWebhook,
    dedupe_field_choices,
    writable_field_choices,
)
from .presets import preset_choices, preset_get, preset_list
from .services import lead_preview, mappings_suggest, webhook_preset_apply
from .transforms import steps_from_text, steps_to_text

RECENT_REQUESTS = 10
FIELD_PICKER_ID = "le-field-options"
ARTICLE_SAMPLE = {
    "first_name": "Lead",
    "last_name": "Engine",
    "name": "Lead Engine",
    "email": "test@leadmagnets.io",
    "phone": "15555555555",
    "city": "Minneapolis",
    "state": "Minnesota",
    "country": "United States",
    "date": "2024-10-02T15:28:20Z",
}


def visible_custom_fields(request, obj=None):
    """The custom fields a form may offer: the webhook's workspace's, else the user's workspaces'."""
    queryset = CustomField.objects.select_related("workspace")
    if obj is not None and obj.workspace_id:
        return list(queryset.filter(workspace_id=obj.workspace_id))
    if request.user.is_superuser:
        return list(queryset)
    return list(queryset.filter(workspace__in=caller_workspace_ids(request)))


AUTH_FIELDS = [
    "auth_mode",
    "auth_header",
    "signing_secret",
    "verify_token",
    "signature_tolerance_seconds",
    "hmac_algorithm",
    "hmac_encoding",
    "hmac_prefix",
    "hmac_signed_content",
    "hmac_timestamp_header",
    "body_key_field",
]
DEFAULTED_AUTH_FIELDS = [
    "auth_mode",
    "signature_tolerance_seconds",
    "hmac_algorithm",
    "hmac_encoding",
    "hmac_signed_content",
]
AUTH_HELP = (
    "One mode per webhook. API key modes use a key with the Receive scope "
    "(<code>webhooks:receive</code>). A <strong>secret URL token</strong> is for senders that can only be "
    "given a URL (Mailchimp, Unbounce): it works, but URLs end up in server, proxy and browser logs, so "
    "prefer a key or a signature when the sender offers one, and rotate the token if the URL leaks. "
    "Signature modes check the vendor's own signature over the raw body with its signing secret; "
    "generic HMAC settings apply to the generic mode only."
)


class InboundWebhookForm(WorkspaceScopedForm):
    dedupe_field = forms.ChoiceField(
        initial="business_email",
        help_text="A lead with the same value of this field is updated instead of created.",
    )
    # Write-only: never rendered back into the page (Reveal fetches it on demand). Blank keeps
    # the stored secret, so saving the page for another reason never erases it.
    start_from_preset = forms.ChoiceField(
        label="Start from a preset",
        required=False,
        help_text="A vendor's auth mode, content type and suggested mapping rows (rows you enter win).",
    )
    signing_secret = forms.CharField(
        required=False,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"size": 46, "autocomplete": "off"}),
        help_text="The vendor's signing secret (signature modes). Leave blank to keep the current one.",
    )

    class Meta:
        model = InboundWebhook
        fields = [
            "workspace",
            "name",
            "description",
            "target_list",
            "dedupe_field",
            "is_active",
            "strict",
            "default_phone_region",
            "capture_next",
            *AUTH_FIELDS,
        ]

    # The dedupe field's and sender-auth rules are the model's (InboundWebhook.clean); the
    # target list's workspace is checked by WorkspaceScopedForm.

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["start_from_preset"].choices = [
            ("", "None: the help article's sample")
        ] + preset_choices()
        for name in (*DEFAULTED_AUTH_FIELDS, "signing_secret"):
            self.fields[name].required = False

    def clean(self):
        cleaned = super().clean()
        # A sender-auth setting that can't be blank, left out (a form posted without the
        # section), keeps the webhook's current value, the model default on a new webhook; a
        # blank signing secret keeps the stored one (the field is never rendered back).
        for name in (*DEFAULTED_AUTH_FIELDS, "signing_secret"):
            if cleaned.get(name) in ("", None):
                cleaned[name] = getattr(self.instance, name)
        return cleaned


class FieldMappingForm(forms.ModelForm):
    # A search box over the field picker's <datalist> (human label and key, filtered as the
    # operator types) instead of a select of ~65 raw keys; the choices still validate the key.
    field = forms.ChoiceField(
        label="LeadEngine field",
        widget=forms.TextInput(
            attrs={
                "list": FIELD_PICKER_ID,
                "size": 28,
                "placeholder": "Search fields…",
                "autocomplete": "off",
            }
        ),
    )

    # Not required: a row posted without it (older pages, scripts) keeps the default.
    combine = forms.ChoiceField(choices=FieldMapping.Combine.choices, required=False)
    transforms = forms.CharField(
        required=False,
        strip=False,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 28, "placeholder": "trim\nsplit ;"}),
        help_text="One step per line: an operation, then its argument (JSON when it reads as JSON): "
        'trim, lower, upper, title, split ;, join ", ", phone_e164 GB, first_name_of, last_name_of, '
        'default …, constant …, template {first} {last}, date %d/%m/%Y, map {"won": "Opportunity"}, '
        "regex (\\d+).",
    )

    class Meta:
        model = FieldMapping
        fields = ["field", "source_path", "combine", "transforms", "clear_when_empty"]
        widgets = {
            "source_path": forms.TextInput(attrs={"size": 40, "placeholder": "email | contact/work/email"})
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Shown as text, and compared as text: a bound extra row whose initial stayed a list
        # would read as changed (`[] != ""`) and be validated as a half-filled row.
        self.initial["transforms"] = steps_to_text(self.initial.get("transforms") or [])
        # An untouched extra row must compare equal to what its select shows.
        self.initial.setdefault("combine", FieldMapping.Combine.FIRST)

    def clean_combine(self):
        return self.cleaned_data.get("combine") or FieldMapping.Combine.FIRST

    def clean_transforms(self):
        # Only the text is read here; the steps' rule is mapping_errors, run by the model's clean().
        return steps_from_text(self.cleaned_data.get("transforms") or "")


class FieldMappingInline(WorkspaceScopedInline, admin.TabularInline):
    """Each row is judged by FieldMapping.clean(), the rule the API and the endpoint share."""

    model = FieldMapping
    form = FieldMappingForm
    extra = 1
    verbose_name = "mapping row"
    verbose_name_plural = "Mapping (LeadEngine field ← source path, then transforms)"

    def get_formset(self, request, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)
        formset.form.base_fields["field"].choices = [("", "---------")] + writable_field_choices(
            visible_custom_fields(request, obj)
        )
        return formset


@admin.register(InboundWebhook)
class InboundWebhookAdmin(WorkspaceScopedAdmin):
    """Settings ▸ Webhooks ▸ Receive Data: URL, mapping editor, captured sample, preview, log."""

    form = InboundWebhookForm
    preselect_only_workspace = True
    inlines = [FieldMappingInline]
    list_display = ["name", "workspace", "is_active", "dedupe_field", "target_list", "last_request"]
    list_filter = ["is_active", "workspace"]
    list_select_related = ["workspace", "target_list"]
    search_fields = ["name", "description", "public_id"]
    change_form_template = "admin/inbound/inboundwebhook/change_form.html"

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(last_request_at=Max("requests__received_at"))

    @admin.display(description="Last request", ordering="last_request_at")
    def last_request(self, obj):
        return obj.last_request_at or "—"

    def get_fieldsets(self, request, obj=None):
        # Name, description and target list first, then the mapping (the inline) below.
        main = [
            "name",
            "description",
            "target_list",
            "workspace",
            "dedupe_field",
            "default_phone_region",
            "is_active",
            "strict",
        ]
        auth = ("Sender authentication", {"fields": AUTH_FIELDS, "description": AUTH_HELP})
        if obj is None:
            suggested = ", ".join(f"{path}→{field}" for field, path in SUGGESTED_MAPPINGS)
            chosen = preset_get(request.GET.get("preset", ""))
            picker = render_to_string(
                "admin/inbound/inboundwebhook/preset_picker.html",
                {"presets": preset_list(), "chosen": chosen},
            )
            return [
                ("Start from a preset", {"fields": ["start_from_preset"], "description": picker}),
                (None, {"fields": main}),
                auth,
                (
                    "Mapping",
                    {
                        "fields": [],
                        "description": "Leave the mapping rows below empty to start with the suggested "
                        f"mapping of the article's sample: {suggested}.",
                    },
                ),
            ]
        return [
            (None, {"fields": ["webhook_url", *main]}),
            (auth[0], {**auth[1], "fields": ["sender_credentials", *AUTH_FIELDS]}),
            *([("Setup", {"fields": ["preset_setup"]})] if preset_get(obj.preset) else []),
            ("Sample", {"fields": ["capture_next", "sample_paths", "tools"]}),
            ("Recent requests", {"fields": ["recent_requests"]}),
        ]

    def response_post_save_add(self, request, obj):
        # Back to Settings ▸ Webhooks (umbrella app's page, found by URL name), not the model list.
        return redirect(reverse("admin:webhooks_settings") + "?kind=receive")

    response_post_save_change = response_post_save_add

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        return [
            "webhook_url",
            "sender_credentials",
            "preset_setup",
            "sample_paths",
            "tools",
            "recent_requests",
        ]

    def get_changeform_initial_data(self, request):
        """`?preset=<key>` on the add page fills the form with the preset's settings."""
        initial = super().get_changeform_initial_data(request)
        initial.pop("preset", None)  # the query parameter, not a form field
        preset = preset_get(request.GET.get("preset", ""))
        if preset is not None:
            initial.update(
                start_from_preset=preset.key,
                name=preset.name,
                auth_mode=preset.auth_mode,
                dedupe_field=preset.dedupe_field,
                **preset.auth_settings,
            )
        return initial

    @admin.display(description="Setup steps")
    def preset_setup(self, obj):
        preset = preset_get(obj.preset)
        return render_to_string("admin/inbound/inboundwebhook/preset_setup.html", {"preset": preset})

    def render_change_form(self, request, context, add=False, change=False, form_url="", obj=None):
        context["field_picker"] = field_picker_options(visible_custom_fields(request, obj))
        context["field_picker_id"] = FIELD_PICKER_ID
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.base_fields["dedupe_field"].choices = dedupe_field_choices(visible_custom_fields(request, obj))
        return form

    @admin.display(description="Credentials")
    def sender_credentials(self, obj):
        """The secrets the sender needs, masked until revealed (fetched on demand, never in the
        page's HTML), and the URL token's Rotate button."""
        secret_url = reverse("admin:inbound_inboundwebhook_sender_secret", args=[obj.pk])
        return render_to_string(
            "admin/inbound/inboundwebhook/sender_credentials.html",
            {
                "webhook": obj,
                "secret_url": secret_url,
                "rotate_url": reverse("admin:inbound_inboundwebhook_rotate_url_token", args=[obj.pk]),
            },
        )

    @admin.display(description="Webhook URL")
    def webhook_url(self, obj):
        if obj.auth_mode != "bearer":
            how = (
                "give senders this URL followed by its token (Credentials, below)"
                if obj.auth_mode == "url_token"
                else obj.get_auth_mode_display()
            )
            return format_html(
                '<input type="text" readonly id="webhook-url" value="{}" size="80" class="le-mono"> '
                '<button type="button" class="button" data-copy-target="webhook-url">Copy</button>'
                '<div class="help">Senders authenticate with: {}.</div>',
                obj.url,
                how,
            )
        return format_html(
            '<input type="text" readonly id="webhook-url" value="{}" size="80" '
            'style="font-family: monospace"> '
            '<button type="button" class="button" data-copy-target="webhook-url">Copy</button>'
            '<div class="help">POST leads here with <code>Authorization: Bearer &lt;API key&gt;</code>, '
            "using an API key with the Receive scope (<code>webhooks:receive</code>) and nothing more: "
            '<a href="{}">API keys</a>.</div>',
            obj.url,
            reverse("admin:leadengine_apikey_changelist"),
        )

    @admin.display(description="Captured sample")
    def sample_paths(self, obj):
        if not obj.sample_body:
            waiting = " Capture is on: waiting for the next request." if obj.capture_next else ""
            return f"No sample yet. Tick “capture the next request”, save, and send a request.{waiting}"
        try:
            rows = sample_rows(json.loads(obj.sample_body))
        except ValueError:
            return "The sample can't be read."
        guesses = field_guesser(visible_custom_fields(None, obj))
        return render_to_string(
            "admin/inbound/inboundwebhook/sample_paths.html",
            {
                "captured_at": str(obj.sample_captured_at),  # with its UTC offset, not the locale format
                "content_type": obj.sample_content_type or "unknown type",
                "paths": [
                    {"path": path, "example": _example(value), "is_array": is_array, "suggest": guesses(path)}
                    for path, value, is_array in rows
                ],
            },
        )

    @admin.display(description="Tools")
    def tools(self, obj):
        log = reverse("admin:inbound_inboundrequest_changelist") + f"?webhook__id__exact={obj.pk}"
        preview = reverse("admin:inbound_inboundwebhook_preview", args=[obj.pk])
        return format_html(
            '<a class="button" href="{}">Preview a lead from a sample body</a> '
            '<a class="button" href="{}">Request log</a>',
            preview,
            log,
        )

    @admin.display(description="Recent requests")
    def recent_requests(self, obj):
        requests = obj.requests.all()[:RECENT_REQUESTS]
        rows = [
            {
                "url": reverse("admin:inbound_inboundrequest_change", args=[request_row.pk]),
                "received_at": request_row.received_at,
                "result": _result_badges(request_row),
                "key_prefix": request_row.api_key_prefix or "—",
                "outcome": _outcome(request_row),
            }
            for request_row in requests
        ]
        return render_to_string(
            "admin/inbound/inboundwebhook/recent_requests.html",
            {
                "rows": rows,
                "log_url": reverse("admin:inbound_inboundrequest_changelist")
                + f"?webhook__id__exact={obj.pk}",
            },
        )

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        preset = preset_get(form.cleaned_data.get("start_from_preset") or "")
        if not change and preset is not None:
            # The form already carries the preset's settings (or the operator's changes to them).
            keep = {*AUTH_FIELDS, "dedupe_field"} | (
                {"mappings"} if form.instance.mappings.exists() else set()
            )
            webhook_preset_apply(webhook=form.instance, preset=preset, keep=keep)
            self.message_user(
                request, f"Started from the {preset.name} preset: follow its setup steps below."
            )
        elif not change and mappings_suggest(webhook=form.instance):
            self.message_user(request, "Started the mapping with the suggested rows; edit them as needed.")

    def get_urls(self):
        return [
            path(
                "<path:object_id>/sender-secret/",
                self.admin_site.admin_view(self.sender_secret_view),
                name="inbound_inboundwebhook_sender_secret",
            ),
            path(
                "<path:object_id>/rotate-url-token/",
                self.admin_site.admin_view(self.rotate_url_token_view),
                name="inbound_inboundwebhook_rotate_url_token",
            ),
            path(
                "<path:object_id>/preview/",
                self.admin_site.admin_view(self.preview_view),
                name="inbound_inboundwebhook_preview",
            ),
            *super().get_urls(),
        ]

    def _webhook_or_404(self, request, object_id):
        webhook = self.get_object(request, object_id)
        if webhook is None:
            raise Http404("No such webhook in your workspaces.")
        return webhook

    def sender_secret_view(self, request, object_id):
        """The Reveal buttons: `?which=signing` (the signing secret) or `url` (the URL with
        its token), as JSON; never cached."""
        webhook = self._webhook_or_404(request, object_id)
        if not self.has_change_permission(request, webhook):
            raise PermissionDenied
        secret = webhook.url_with_token if request.GET.get("which") == "url" else webhook.signing_secret
        response = JsonResponse({"secret": secret})
        response["Cache-Control"] = "no-store"
        return response

    def rotate_url_token_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        webhook = self._webhook_or_404(request, object_id)
        if not self.has_change_permission(request, webhook):
            raise PermissionDenied
        webhook.rotate_url_token()
        self.message_user(request, "New URL token: the old URL stopped working. Give the sender the new URL.")
        return redirect("admin:inbound_inboundwebhook_change", webhook.pk)

    def preview_view(self, request, object_id):
        webhook = self.get_object(request, object_id)
        if webhook is None:
            raise Http404("No such webhook in your workspaces.")
        body = request.POST.get("body") if request.method == "POST" else None
        if body is None:
            body = webhook.sample_body or json.dumps(ARTICLE_SAMPLE, indent=2)
        previews, error = None, None
        if request.method == "POST":
            try:
                document = parse_json(body.encode())
            except InboundError as exc:
                error = exc.message
            else:
                if isinstance(document, dict | list):
                    previews = lead_preview(
                        webhook=webhook, document=document[:20] if isinstance(document, list) else document
                    )
                else:
                    error = "Paste a JSON object or an array of objects."
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": webhook,
            "title": f"Preview: {webhook}",
            "body": body,
            "error": error,
            "previews": [_preview_rows(preview) for preview in previews or []],
            "posted": request.method == "POST",
        }
        return TemplateResponse(request, "admin/inbound/preview.html", context)


def field_picker_options(custom_fields):
    """(key, label) of the mapping's field picker: the catalogue's human labels, then custom fields."""
    labels = {spec.key: spec.label for spec in DEFAULT_FIELDS}
    return [(key, labels.get(key, label)) for key, label in writable_field_choices(custom_fields)]


def _squash(text):
    return "".join(character for character in str(text).lower() if character.isalnum())


def field_guesser(custom_fields):
    """A function path → the field a sample path most likely fills ("" when unsure): the whole
    path, then its last named segment, compared with the article's suggested paths, the field
    keys and labels (case, "_" and "/" ignored): contact/email → business_email."""
    known = {_squash(path): field for field, path in SUGGESTED_MAPPINGS}
    for key, label in field_picker_options(custom_fields):
        known.setdefault(_squash(key), key)
        known.setdefault(_squash(label), key)

    def guess(source_path):
        segments = [segment for segment in source_path.split("/") if not segment.isdigit()]
        if not segments:
            return ""
        return known.get(_squash("".join(segments))) or known.get(_squash(segments[-1]), "")

    return guess


def sample_rows(document):
    """(path, example, is_array) of every leaf of a captured sample, with each array's own
    path just before its elements: an array maps as a whole (tags) or by element (tags/0)."""
    leaves = mapping.flatten(document)
    arrays = {}
    for leaf_path, _value in leaves:
        node, walked = document, []
        for segment in leaf_path.split("/")[:-1]:
            node = (
                node[int(segment)]
                if isinstance(node, list)
                else node.get(segment)
                if isinstance(node, dict)
                else None
            )
            walked.append(segment)
            if isinstance(node, list):
                arrays.setdefault("/".join(walked), node)
    rows, shown = [], set()
    for leaf_path, value in leaves:
        for array_path, array in arrays.items():
            if array_path not in shown and leaf_path.startswith(array_path + "/"):
                rows.append((array_path, array, True))
                shown.add(array_path)
        rows.append((leaf_path, value, False))
    return rows


def status_code_badge(code):
    colour = "green" if code < 400 else ("amber" if code == 429 else "red")
    return format_html('<span class="le-badge le-{}">HTTP {}</span>', colour, code)


def warnings_badge(count):
    if not count:
        return ""
    return format_html(
        '<span class="le-badge le-amber">{} warning{}</span>', count, "" if count == 1 else "s"
    )


def _result_badges(request_row):
    # A saved lead with skipped values is a success the operator should still look at.
    return format_html(
        "{} {}", status_code_badge(request_row.status_code), warnings_badge(len(request_row.warnings or []))
    )


def _outcome(request_row):
    response = request_row.response if isinstance(request_row.response, dict) else {}
    if "lead_id" in response:
        verb = "created" if response.get("created") else "updated"
        return format_html(
            'Lead <a href="{}">#{}</a> {}',
            reverse("admin:leads_lead_change", args=[response["lead_id"]]),
            response["lead_id"],
            verb,
        )
    if "results" in response:
        return (
            f"Batch: {response.get('created', 0)} created, {response.get('updated', 0)} updated, "
            f"{response.get('failed', 0)} failed"
        )
    if response.get("reason"):  # a refused sender: why, in the log's own words
        return f"Refused ({response['reason']}): {response.get('detail', '')}"
    return response.get("detail", "")


def _example(value):
    text = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:79] + "…"


def _shown(value):
    if value is None:
        return "—"
    return _example(value.isoformat() if hasattr(value, "isoformat") else value)


def _preview_rows(preview):
    """A row per mapped field: the value it would store, and each step that led there (the
    source, every transform, then the coerced value), so a transform's effect is visible."""
    record = preview.get("record")
    rows = []
    if record is not None:
        stored = {**record.values, **record.custom_values}
        for key, steps in record.steps.items():
            if key not in stored and all(value is None for _label, value in steps):
                continue  # nothing found for this row: its paths are listed as missing
            rows.append(
                {
                    "key": key,
                    "value": _shown(stored[key]) if key in stored else "(not stored)",
                    "steps": [(label, _shown(value)) for label, value in steps],
                }
            )
    return {
        "rows": rows,
        "errors": preview["errors"],
        "warnings": preview.get("warnings", []),
        "existing": preview.get("existing"),
        "missing_paths": record.missing_paths if record else [],
        "unmapped_keys": record.unmapped_keys if record else [],
    }


class ResultFilter(admin.SimpleListFilter):
    """Results by class: fixed choices, where a filter on `status_code` would read every row
    of the log (SELECT DISTINCT) to list the codes it holds."""

    title = "result"
    parameter_name = "result"
    CLASSES = {"2xx": (200, 300), "4xx": (400, 500), "5xx": (500, 600)}

    def lookups(self, request, model_admin):
        return [("2xx", "Accepted (2xx)"), ("4xx", "Refused (4xx)"), ("5xx", "Server error (5xx)")]

    def queryset(self, request, queryset):
        if self.value() not in self.CLASSES:
            return queryset
        low, high = self.CLASSES[self.value()]
        return queryset.filter(status_code__gte=low, status_code__lt=high)


@admin.register(InboundRequest)
class InboundRequestAdmin(WorkspaceScopedAdmin):
    """The request log: read-only, newest first."""

    list_display = [
        "received_at",
        "webhook",
        "result",
        "outcome",
        "api_key_prefix",
        "content_type",
        "body_size",
    ]
    list_filter = [ResultFilter, "webhook"]
    list_select_related = ["webhook"]
    search_fields = ["body", "api_key_prefix", "public_id"]
    # Half a million rows and more: no full count, no date drill-down (docs/benchmarks.md, P11).
    show_full_result_count = False
    paginator = CappedCountPaginator
    fields = [
        "received_at",
        "webhook",
        "public_id",
        "api_key_prefix",
        "status_code",
        "response_pretty",
        "content_type",
        "remote_addr",
        "body_size",
        "body_truncated",
        "body_pretty",
        "warnings_list",
        "missing_paths",
        "unmapped_keys",
    ]
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser

    def changelist_view(self, request, extra_context=None):
        extra_context = {"subtitle": request_log_retention_text(), **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    @admin.display(description="Result", ordering="status_code")
    def result(self, obj):
        return _result_badges(obj)

    @admin.display(description="Outcome")
    def outcome(self, obj):
        return _outcome(obj)

    @admin.display(description="Warnings")
    def warnings_list(self, obj):
        if not obj.warnings:
            return "—"
        return render_to_string("admin/inbound/warnings.html", {"warnings": obj.warnings})

    @admin.display(description="Response")
    def response_pretty(self, obj):
        return format_html(
            '{} <pre class="le-json">{}</pre>',
            status_code_badge(obj.status_code),
            json.dumps(obj.response, indent=2, ensure_ascii=False),
        )

    @admin.display(description="Body")
    def body_pretty(self, obj):
        if not obj.body:
            if obj.body_truncated:
                return "(not kept: over the size limit)"
            return "(deleted: past its retention period)" if obj.body_size else "(empty)"
        suffix = "\n… (truncated at 64 KiB)" if obj.body_truncated else ""
        body = obj.body
        if not obj.body_truncated and obj.content_type.startswith("application/json"):
            # Unparseable bodies are shown as received: the log is for seeing what went wrong.
            with contextlib.suppress(ValueError):
                body = json.dumps(json.loads(body), indent=2, ensure_ascii=False)
        return format_html('<pre class="le-json">{}{}</pre>', body, suffix)

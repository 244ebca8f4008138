from django import forms
from django.contrib import admin, messages
from django.template.loader import render_to_string
from django.template.response import TemplateResponse

from leadengine.admin_scoping import WorkspaceScopedAdmin, WorkspaceScopedForm, WorkspaceScopedInline

from .admin_extensions import lead_extra_inlines
from .models import Campaign, CustomField, Lead, LeadStatus, List, Message
from .services import lead_set_status, leads_set_status


@admin.register(Campaign)
class CampaignAdmin(WorkspaceScopedAdmin):
    list_display = ["name", "workspace", "created_at"]
    list_filter = ["workspace"]
    search_fields = ["name"]


@admin.register(List)
class ListAdmin(WorkspaceScopedAdmin):
    list_display = ["name", "workspace", "created_at"]
    list_filter = ["workspace"]
    search_fields = ["name"]


@admin.register(CustomField)
class CustomFieldAdmin(WorkspaceScopedAdmin):
    list_display = ["key", "label", "type", "workspace"]
    list_filter = ["type", "workspace"]
    search_fields = ["key", "label"]

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        # Leads store values under the key: renaming it would orphan them.
        return [*readonly, "key"] if obj is not None else readonly


class MessageInline(WorkspaceScopedInline, admin.StackedInline):
    model = Message
    extra = 0
    fields = [
        ("type", "date", "campaign"),
        ("from_name", "from_address"),
        ("to_name", "to_address"),
        "subject",
        "body",
        ("angle", "framework", "test", "tone", "campaign_step", "word_limit"),
    ]


class SetStatusForm(forms.Form):
    status = forms.ChoiceField(choices=LeadStatus.choices)


class LeadForm(WorkspaceScopedForm):
    class Meta:
        model = Lead
        fields = "__all__"
        # One click per status, next to the Save buttons at the top of the page.
        widgets = {"lead_status": forms.RadioSelect(attrs={"class": "le-status-picker"})}


@admin.register(Lead)
class LeadAdmin(WorkspaceScopedAdmin):
    form = LeadForm
    save_on_top = True
    list_display = ["__str__", "business_email", "company_name", "lead_status", "modified_date"]
    list_filter = [
        "lead_status",
        "lists",
        "campaigns",
    ]
    list_select_related = ["workspace"]
    search_fields = ["name", "first_name", "last_name", "business_email", "personal_email", "company_name"]
    date_hierarchy = "created_date"
    actions = ["set_status"]
    inlines = [MessageInline]
    filter_horizontal = ["campaigns", "lists"]
    readonly_fields = ["status_history", "life_cycle_history", "sentiment_history", "modified_date"]
    fieldsets = [
        (None, {"fields": ["workspace", "lead_status", "status_history"]}),
        (
            "Person",
            {
                "fields": [
                    ("name", "first_name", "last_name"),
                    ("business_email", "personal_email"),
                    "gender",
                    ("job_title", "job_department"),
                    "about",
                    ("mobile_phone", "office_phone"),
                    ("phone_country", "phone_validation"),
                    ("person_linkedin", "person_facebook", "person_x"),
                    "linkedin_summary",
                ]
            },
        ),
        (
            "Company",
            {
                "fields": [
                    ("company_name", "industry", "number_of_employees"),
                    "website",
                    "website_summary",
                    ("company_linkedin", "company_facebook", "company_x"),
                ]
            },
        ),
        (
            "Address",
            {"fields": [("street_address", "city"), ("state", "postal_code"), ("country", "time_zone")]},
        ),
        (
            "Engagement",
            {
                "fields": [
                    ("campaigns", "lists"),
                    ("tags", "import_tags"),
                    ("lead_source", "lead_type", "contact_owner"),
                    ("life_cycle", "sentiment"),
                    ("life_cycle_history", "sentiment_history"),
                    ("email_provider", "email_provider_type", "email_validation"),
                    ("email_bounce_status", "email_bounce_sub_status"),
                    ("email_subscription", "sms_subscription"),
                    (
                        "number_of_emails",
                        "number_of_email_opens",
                        "number_of_email_clicks",
                        "number_of_email_replies",
                    ),
                    (
                        "number_of_phone_calls",
                        "number_of_sms_sent",
                        "number_of_sms_replies",
                        "number_of_times_contacted",
                    ),
                    (
                        "last_contacted",
                        "last_email_open_date",
                        "last_email_click_date",
                        "last_email_reply_date",
                    ),
                ]
            },
        ),
        ("Custom fields", {"fields": ["custom_fields"]}),
        ("Dates", {"fields": [("created_date", "modified_date")]}),
    ]

    def get_inlines(self, request, obj):
        return [*super().get_inlines(request, obj), *lead_extra_inlines()]

    @admin.display(description="Status history")
    def status_history(self, obj):
        if not obj.lead_status_history:
            return "No status change yet."
        # Newest first; each entry is {value, changed_at (ISO 8601 UTC)}, kept by the status service.
        changes = [
            {"status": entry["value"], "changed_at": entry["changed_at"].replace("T", " ").removesuffix("Z")}
            for entry in reversed(obj.lead_status_history)
        ]
        return render_to_string("admin/leads/lead/status_history.html", {"changes": changes})

    def save_model(self, request, obj, form, change):
        """Save the other fields; the status changes in save_related(), through the service."""
        obj.lead_status = obj.persisted_status if change else None
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change):
        # After lists, campaigns and messages are saved, so the event (and the webhook
        # filters and payload built from it) sees the lead as the operator saved it.
        super().save_related(request, form, formsets, change)
        wanted_status = form.cleaned_data.get("lead_status")
        if wanted_status and wanted_status != form.instance.lead_status:
            lead_set_status(lead=form.instance, status=wanted_status, actor=request.user)

    @admin.action(description="Set status…")
    def set_status(self, request, queryset):
        form = SetStatusForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            # One transaction and one webhook event for the selection, however large.
            leads = list(queryset.only("id", "workspace_id", "lead_status"))
            changed = len(
                leads_set_status(leads=leads, status=form.cleaned_data["status"], actor=request.user)
            )
            self.message_user(
                request,
                f"Status set to “{form.cleaned_data['status']}” on {changed} lead(s); "
                f"{len(leads) - changed} already had it.",
                messages.SUCCESS,
            )
            return None
        return TemplateResponse(
            request,
            "admin/leads/lead/set_status.html",
            {
                **self.admin_site.each_context(request),
                "title": "Set status",
                "form": form,
                "leads": queryset,
                "opts": self.model._meta,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
            },
        )

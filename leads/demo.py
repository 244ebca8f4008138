"""The demo workspace of the run command: deterministic, and safe to seed twice."""

import random
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from leadengine.models import Workspace
from leadengine.services import operator_ensure

from .events import demo_workspace_seeded
from .models import Campaign, CustomField, Lead, LeadStatus, List, Message
from .services import lead_set_status

DEMO_SLUG = "demo"
DEMO_NAME = "My Default Workspace"
OPERATOR_USERNAME = "operator"
FIRST_NAMES = ["Ada", "Grace", "Alan", "Linus", "Margaret", "Ken", "Barbara", "Dennis", "Radia", "Tim"]
LAST_NAMES = [
    "Lovelace",
    "Hopper",
    "Turing",
    "Torvalds",
    "Hamilton",
    "Thompson",
    "Liskov",
    "Ritchie",
    "Perlman",
    "Berners-Lee",
]
COMPANIES = ["Initech", "Globex", "Umbrella", "Hooli", "Stark Industries", "Wayne Enterprises", "Acme"]
CUSTOM_FIELDS = [
    ("my_custom_number_field", "My custom number field", CustomField.Type.NUMBER),
    ("favourite_product", "Favourite product", CustomField.Type.TEXT),
    ("renewal_date", "Renewal date", CustomField.Type.DATE),
    ("is_customer", "Is customer", CustomField.Type.BOOLEAN),
]


@transaction.atomic
def seed_demo(lead_count=50):
    """Create the demo workspace, operator and leads; returns (workspace, operator, password).

    The password is None when the operator already existed: it is printed once only.
    """
    workspace, _ = Workspace.objects.get_or_create(slug=DEMO_SLUG, defaults={"name": DEMO_NAME})
    password = secrets.token_urlsafe(12)
    operator, created = operator_ensure(username=OPERATOR_USERNAME, workspace=workspace, password=password)
    if not workspace.leads.exists():
        _seed_leads(workspace, lead_count)
    demo_workspace_seeded.send(sender=Workspace, workspace=workspace)
    return workspace, operator, password if created else None


def _seed_leads(workspace, lead_count):
    rng = random.Random(42)
    campaigns = [
        Campaign.objects.get_or_create(workspace=workspace, name=name)[0]
        for name in ("My Super Performing Campaign", "Newsletter", "Q4 Founders Outreach")
    ]
    lists = [
        List.objects.get_or_create(workspace=workspace, name=name)[0]
        for name in ("Founders", "Inbound Leads", "Enterprise")
    ]
    for key, label, type_ in CUSTOM_FIELDS:
        CustomField.objects.get_or_create(
            workspace=workspace, key=key, defaults={"label": label, "type": type_}
        )
    statuses = list(LeadStatus)
    now = timezone.now()
    for index in range(lead_count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        company = rng.choice(COMPANIES)
        domain = company.lower().replace(" ", "") + ".example"
        lead = Lead.objects.create(
            workspace=workspace,
            name=f"{first} {last}",
            first_name=first,
            last_name=last,
            business_email=f"{first}.{last}.{index}@{domain}".lower(),
            company_name=company,
            job_title=rng.choice(["CEO", "CTO", "Head of Sales", "Founder", "VP Marketing"]),
            city=rng.choice(["Minneapolis", "Berlin", "Lisbon", "Austin"]),
            country=rng.choice(["United States", "Germany", "Portugal"]),
            email_provider=rng.choice(["Gmail", "Outlook"]),
            tags=rng.sample(["Prospect", "Cars", "Space", "SaaS", "Hot"], 2),
            number_of_emails=rng.randint(1, 6),
            custom_fields={"my_custom_number_field": rng.randint(1, 10), "is_customer": rng.random() < 0.2},
            created_date=now - timedelta(days=rng.randint(1, 60)),
        )
        campaign = rng.choice(campaigns)
        lead.campaigns.add(campaign)
        lead.lists.add(rng.choice(lists))
        _seed_thread(lead, campaign, rng, now)
        if index % 5:  # leave every fifth lead without a status
            lead_set_status(lead=lead, status=rng.choice(statuses), campaign=campaign)


def _seed_thread(lead, campaign, rng, now):
    sent = now - timedelta(days=rng.randint(1, 20), minutes=rng.randint(0, 600))
    Message.objects.create(
        lead=lead,
        campaign=campaign,
        type=Message.Type.OUTBOUND,
        date=sent,
        subject=f"Quick idea for {lead.company_name}",
        body=f"Hi {lead.first_name}, ...",
        from_name="LeadEngineUser",
        from_address="user@leadengine.example",
        to_name=lead.name,
        to_address=lead.business_email,
        angle="Autogrow",
        framework="Problem, Solution, Proof, CTA",
        test="a",
        tone="Informal",
        campaign_step=1,
        word_limit=225,
    )
    if rng.random() < 0.6:
        Message.objects.create(
            lead=lead,
            campaign=campaign,
            type=Message.Type.INBOUND,
            date=sent + timedelta(hours=3),
            subject=f"Re: Quick idea for {lead.company_name}",
            body="Tell me more.",
            from_name=lead.name,
            from_address=lead.business_email,
            to_name="LeadEngineUser",
            to_address="user@leadengine.example",
        )

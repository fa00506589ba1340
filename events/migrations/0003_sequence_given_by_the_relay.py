from django.db import migrations, models
from django.db.models import Max


def count_on_from_the_events_there(apps, schema_editor):
    """Each cart's last sequence so far, given by the changes themselves before this."""
    Event = apps.get_model("events", "Event")
    CartSequence = apps.get_model("events", "CartSequence")
    told = Event.objects.filter(sequence__isnull=False)
    last = told.values("cart_id").annotate(last=Max("sequence"))
    CartSequence.objects.bulk_create(
        [CartSequence(cart_id=row["cart_id"], last=row["last"]) for row in last.iterator()],
        batch_size=1000,
    )


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0002_lighter_event_indexes"),
    ]

    operations = [
        migrations.CreateModel(
            name="CartSequence",
            fields=[
                ("cart_id", models.UUIDField(primary_key=True, serialize=False)),
                ("last", models.PositiveIntegerField()),
            ],
        ),
        migrations.RemoveConstraint(
            model_name="event",
            name="event_cart_sequence",
        ),
        migrations.AlterField(
            model_name="event",
            name="sequence",
            field=models.PositiveIntegerField(blank=True, null=True),
        ),
        migrations.AddConstraint(
            model_name="event",
            constraint=models.UniqueConstraint(
                condition=models.Q(("sequence__isnull", False)),
                fields=("cart_id", "sequence"),
                name="event_cart_sequence",
            ),
        ),
        migrations.RunPython(count_on_from_the_events_there, migrations.RunPython.noop),
    ]

from django.db import models


class Lead(models.Model):
    name = models.CharField(max_length=200)
    status = models.CharField(max_length=50, blank=True)

    def __str__(self):
        return self.name

import factory

from accounts.models import User
from accounts.services import user_set_roles

PASSWORD = "a-long-test-password"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"person{n}@example.org")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password(PASSWORD)

    @factory.post_generation
    def roles(self, create: bool, roles: list | None, **kwargs: object) -> None:
        if create and roles:
            user_set_roles(user=self, roles=roles)

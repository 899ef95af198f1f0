"""What posts tell the apps above them, so posts never imports them (accounts → posts → …).

`post_published(post_id)` is sent once a publication has committed (by an editor or the
scheduler); generation listens to record how far the published text moved from its AI draft.
"""

from django.dispatch import Signal

post_published = Signal()

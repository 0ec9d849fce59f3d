from .resumable_epoch_based_train_loop import ResumableEpochBasedTrainLoop
from .retrieval_loop import RetrievalProtocol, RetrievalTestLoop, RetrievalValLoop

__all__ = [
    'ResumableEpochBasedTrainLoop',
    'RetrievalProtocol',
    'RetrievalTestLoop',
    'RetrievalValLoop',
]

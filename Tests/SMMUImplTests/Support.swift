import P2MImpl
import SMMUImpl
import Spec
import Testing

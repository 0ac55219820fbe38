"""The 38 SNANA model directories of ELAsTiCC2 and the parameters the sample simulates each with.

One :class:`~elasticc_tutorial.sample.models.ModelSpec` per directory of the real test set
(``ELASTICC2_FINAL_<model>``, formats.md §1.4b), in sorted order; 37 models, because
``SLSN-I+host`` and ``SLSN-I_no_host`` are one model (gentype 40) split by host. The physics behind
the numbers is in :mod:`.models`. Variants of one class differ the way the real ones do:
``+HostXT_V19`` models carry more host dust (Vincenzi et al. 2019 templates with host extinction),
``SL-*`` models are strongly lensed (magnified, at higher redshift), ``SLSN-I_no_host`` has no host
galaxy, ``uLens-Binary`` a binary lens. SIM_MODEL_INDEX values are this sample's own numbering.
"""

from __future__ import annotations

from elasticc_tutorial.sample.models import ModelSpec, Transient
from elasticc_tutorial.taxonomy import MODEL_GENTYPES

__all__ = ["MODELS"]

# Rest-frame light-curve shapes (see models.Transient): m_peak, sigma, tau_rise, tau_fall, tail,
# (T_peak, T_late), tau_T, lam_uv[, shape]
_IA = Transient(-19.3, 0.12, 4.5, 17.0, 0.04, (11500.0, 6000.0), 18.0, 3700.0)
_IB = Transient(-17.5, 0.9, 5.0, 18.0, 0.08, (9000.0, 5000.0), 20.0, 3600.0)
_IC = Transient(-17.7, 0.9, 4.5, 16.0, 0.08, (9500.0, 5000.0), 18.0, 3700.0)
_IC_BL = Transient(-18.3, 0.6, 4.0, 14.0, 0.06, (11000.0, 5500.0), 16.0, 3700.0)
_IIP = Transient(-16.8, 1.0, 2.0, 0.0, 0.1, (15000.0, 5500.0), 15.0, 3000.0, "plateau")
_IIB = Transient(-17.0, 0.8, 5.0, 20.0, 0.1, (10000.0, 5000.0), 20.0, 3500.0)
_IIN = Transient(-18.5, 1.0, 15.0, 60.0, 0.0, (12000.0, 7000.0), 60.0, 3000.0)
_SLSN = Transient(-21.0, 0.7, 12.0, 45.0, 0.0, (15000.0, 8000.0), 50.0, 3200.0)
_KN_K17 = Transient(-15.5, 0.7, 0.4, 1.8, 0.0, (6000.0, 2500.0), 2.5, 3500.0)
# Bulla (2019) POSSIS kilonovae: a blue lanthanide-poor component, so hotter and slower to redden
_KN_B19 = Transient(-15.8, 0.6, 0.6, 2.5, 0.0, (7500.0, 3000.0), 3.0, 3300.0)
# PISN: MOSFIT (Villar et al. 2017) and the STELLA He-core / hydrogen-rich models (Kozyreva
# et al. 2017): the hydrogen-rich explosions are fainter with a long plateau-like decline.
_PISN = Transient(-20.5, 0.5, 35.0, 100.0, 0.1, (9000.0, 5500.0), 150.0, 3500.0)
_PISN_HE = Transient(-20.0, 0.5, 45.0, 120.0, 0.1, (8500.0, 5000.0), 150.0, 3500.0)
_PISN_H = Transient(-19.0, 0.6, 40.0, 220.0, 0.05, (10000.0, 6000.0), 200.0, 3300.0)


def _sn(name, layout, model_name, type_name, index, zrange, window, tr, **kw) -> ModelSpec:
    return ModelSpec(name, layout, False, model_name, type_name, index, zrange, window, tr, **kw)


def _lclib(name: str, type_name: str, kind: str, r_mag, colour, **extra) -> ModelSpec:
    return ModelSpec(
        name, "lclib", True, "LCLIB", type_name, 12, window=None, kind=kind,
        extra={"r_mag": r_mag, "colour": colour, **extra},
    )  # fmt: skip


_RED = (1.4, 0.35, 0.0, -0.15, -0.2, -0.25)
_SPECS = (
    _sn("SNIa-SALT3", "salt", "SALT3.DES", "Ia", 6, (0.02, 0.9), (-30.0, 100.0), _IA, av_scale=0),
    _sn("SNIa-91bg", "host", "NON1ASED", "Ia-91bg", 9, (0.01, 0.15), (-30.0, 90.0),
        Transient(-17.6, 0.4, 3.0, 11.0, 0.03, (8000.0, 4500.0), 12.0, 4000.0)),
    _sn("SNIax", "host", "NON1ASED", "Iax", 10, (0.01, 0.25), (-30.0, 100.0),
        Transient(-17.0, 1.0, 3.5, 15.0, 0.03, (10000.0, 5000.0), 15.0, 3600.0)),
    _sn("SNIb-Templates", "host", "NON1ASED", "Ib", 10, (0.01, 0.35), (-40.0, 150.0), _IB),
    _sn("SNIb+HostXT_V19", "host", "NON1ASED", "Ib", 19, (0.01, 0.35), (-40.0, 150.0), _IB,
        av_scale=0.6),
    _sn("SNIc-Templates", "host", "NON1ASED", "Ic", 10, (0.01, 0.35), (-40.0, 150.0), _IC),
    _sn("SNIc+HostXT_V19", "host", "NON1ASED", "Ic", 19, (0.01, 0.35), (-40.0, 150.0), _IC,
        av_scale=0.6),
    _sn("SNIcBL+HostXT_V19", "host", "NON1ASED", "Ic-BL", 19, (0.01, 0.45), (-40.0, 120.0),
        _IC_BL, av_scale=0.6),
    _sn("SNII-NMF", "host", "NON1ASED", "II", 8, (0.01, 0.3), (-40.0, 200.0), _IIP),
    _sn("SNII-Templates", "host", "NON1ASED", "II", 10, (0.01, 0.3), (-40.0, 200.0), _IIP),
    _sn("SNII+HostXT_V19", "host", "NON1ASED", "II", 19, (0.01, 0.3), (-40.0, 200.0), _IIP,
        av_scale=0.6),
    _sn("SNIIb+HostXT_V19", "host", "NON1ASED", "IIb", 19, (0.01, 0.35), (-40.0, 150.0), _IIB,
        av_scale=0.6),
    _sn("SNIIn-MOSFIT", "host", "MOSFIT-IIn", "IIn", 11, (0.01, 0.5), (-60.0, 250.0), _IIN),
    _sn("SNIIn+HostXT_V19", "host", "NON1ASED", "IIn", 19, (0.01, 0.5), (-60.0, 250.0), _IIN,
        av_scale=0.6),
    _sn("SLSN-I+host", "host", "MOSFIT-SLSN", "SLSN-I", 13, (0.1, 2.0), (-80.0, 250.0), _SLSN),
    _sn("SLSN-I_no_host", "host", "MOSFIT-SLSN", "SLSN-I", 13, (0.1, 2.0), (-80.0, 250.0), _SLSN,
        hostless=True),
    _sn("TDE", "host", "NON1ASED.TDE", "TDE", 14, (0.02, 0.5), (-60.0, 300.0),
        Transient(-19.5, 0.7, 15.0, 40.0, 0.0, (30000.0, 30000.0), 1e9, 0.0, "tde"), av_scale=0),
    _sn("ILOT", "host", "NON1ASED.ILOT", "ILOT", 15, (0.001, 0.02), (-40.0, 150.0),
        Transient(-12.0, 1.5, 8.0, 40.0, 0.0, (6000.0, 4000.0), 30.0, 4000.0)),
    _sn("CART", "host", "NON1ASED.CART", "CART", 16, (0.005, 0.1), (-30.0, 100.0),
        Transient(-15.5, 0.5, 3.5, 12.0, 0.02, (8000.0, 5000.0), 12.0, 4000.0)),
    _sn("PISN-MOSFIT", "host", "MOSFIT-PISN", "PISN", 17, (0.1, 1.5), (-150.0, 300.0), _PISN),
    _sn("PISN-STELLA_HECORE", "host", "STELLA-PISN", "PISN", 20, (0.1, 1.5), (-150.0, 350.0),
        _PISN_HE),
    _sn("PISN-STELLA_HYDROGENIC", "host", "STELLA-PISN", "PISN", 20, (0.1, 1.2),
        (-150.0, 450.0), _PISN_H),
    _sn("KN_K17", "kn", "SIMSED.KN-K17", "UNKNOWN", 7, (0.005, 0.1), (-20.0, 60.0), _KN_K17,
        av_scale=0),
    _sn("KN_B19", "kn", "SIMSED.KN-B19", "UNKNOWN", 7, (0.005, 0.12), (-20.0, 60.0), _KN_B19,
        av_scale=0),
    # strongly lensed supernovae: the lens galaxy is the "host" the survey sees
    _sn("SL-SN1a", "salt", "SALT3.DES", "Ia", 21, (0.2, 1.5), (-30.0, 100.0), _IA, av_scale=0,
        lensed=True),
    _sn("SL-SNII", "host", "NON1ASED", "II", 21, (0.2, 1.2), (-40.0, 200.0), _IIP, lensed=True),
    _sn("SL-SNIb", "host", "NON1ASED", "Ib", 21, (0.2, 1.2), (-40.0, 150.0), _IB, lensed=True),
    _sn("SL-SNIc", "host", "NON1ASED", "Ic", 21, (0.2, 1.2), (-40.0, 150.0), _IC, lensed=True),
    ModelSpec("AGN", "host", False, "NON1ASED.AGN", "AGN", 18, (0.2, 3.0), None, kind="agn"),
    _lclib("RRL", "RRL", "rrl", (16.0, 23.0), (1.2, 0.2, 0.0, -0.1, -0.15, -0.2)),
    _lclib("Cepheid", "Cepheid", "cepheid", (16.0, 23.0), (1.8, 0.5, 0.0, -0.25, -0.35, -0.45)),
    _lclib("d-Sct", "d-Sct", "dsct", (17.0, 23.0), (1.1, 0.1, 0.0, -0.05, -0.1, -0.12)),
    _lclib("EB", "EB", "eb", (16.0, 23.0), (1.4, 0.35, 0.0, -0.15, -0.2, -0.25)),
    _lclib("Mdwarf-flare", "m-Dwarf-", "mdwarf", (17.0, 22.5), (3.1, 1.2, 0.0, -0.6, -0.92, -1.1)),
    _lclib("dwarf-nova", "dwarf-no", "dwarfnova", (19.0, 24.0), (0.3, 0.3, 0.0, -0.2, -0.3, -0.35)),
    _lclib("uLens-Single-GenLens", "uLens", "ulens", (17.0, 23.0), _RED),
    # PyLIMA events (Bachelet et al. 2017) favour shorter Einstein times than GenLens
    _lclib("uLens-Single_PyLIMA", "uLens", "ulens", (17.0, 23.0), _RED, t_e=15.0),
    _lclib("uLens-Binary", "uLens", "ulens_binary", (17.0, 23.0), _RED),
)  # fmt: skip

#: Every ELAsTiCC2 SNANA model directory name -> its simulation parameters, in sorted order.
MODELS: dict[str, ModelSpec] = {s.name: s for s in sorted(_SPECS, key=lambda s: s.name)}

if set(MODELS) != set(MODEL_GENTYPES):  # pragma: no cover - a programming error
    raise RuntimeError(f"specs and taxonomy disagree: {set(MODELS) ^ set(MODEL_GENTYPES)}")
